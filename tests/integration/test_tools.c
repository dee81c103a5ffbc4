/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ordinary tools on a real mount, driven through the shell: git (a new
 * repository and one that the base already holds), tar out of and into a
 * branch, sqlite3 (WAL and rollback journals), make and cc, the
 * write-aside-and-rename saves of editors and sed -i, pip, npm, pnpm (its
 * store hard-linked into node_modules) and rsync -aHAX.
 * What they leave must be what they leave on a plain disk, in the branch
 * and in the base after the commit.
 */
#define _GNU_SOURCE
#include "bfs_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum view { AT_BRANCH, ROOT_BRANCH, ROOT_MAIN, NVIEWS };

static struct bfs_mount m;
static enum view V;
static char W[4096];

/* A private git identity and configuration for every git call. */
#define GIT                                                                                \
	"export HOME=/nonexistent GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "      \
	"GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t "                     \
	"GIT_COMMITTER_EMAIL=t@t; set -e; git() { command git -c init.defaultBranch=main " \
	"-c gc.auto=0 -c core.fsync=all \"$@\"; }; "

static void setup(void)
{
	bfs_mount_prepare(&m);
	ck_assert_int_eq(bfs_sh(m.base,
				"set -e; mkdir -p src/lib docs; "
				"for i in $(seq 30); do echo \"line $i\" > src/f$i.c; done; "
				"echo lib > src/lib/l.c; echo doc > docs/readme; "
				"ln -s ../docs/readme src/readme; ln src/f1.c src/f1-link.c; "
				"chmod 0750 src/lib; touch -d @1000000000.5 docs/readme"),
			 0);
	bfs_mount_start(&m, NULL);
	ck_ret(bfs_branch_create(&m, NULL, "b"), 0);
}

static void teardown(void)
{
	bfs_mount_stop(&m);
}

static void use_view(int v)
{
	char ctl[4096];

	V = v;
	if (V == AT_BRANCH) {
		bfs_branch_dir(W, &m, "b");
		return;
	}
	if (V == ROOT_BRANCH)
		ck_ret(bfs_ctl(bfs_ctl_path(ctl, &m, NULL), "switch:b"), 0);
	snprintf(W, sizeof(W), "%s", m.mnt);
}

static const char *at(const char *root, const char *rel)
{
	static char buf[8][4096];
	static int next;
	char *p = buf[next++ % 8];

	snprintf(p, 4096, "%s/%s", root, rel);
	return p;
}

static void commit_view(void)
{
	char ctl[4096];

	if (V != ROOT_MAIN)
		ck_ret(bfs_ioc_commit(bfs_ctl_path(ctl, &m, "b")), 0);
}

START_TEST(git_new_repository)
{
	use_view(_i);
	ck_assert_int_eq(
		bfs_sh(W, GIT "git init -q repo; cd repo; "
			      "for i in $(seq 60); do echo $i > f$i; done; "
			      "mkdir -p src/deep; echo 'int main(void){return 0;}' > src/deep/m.c; "
			      "git add -A; git commit -qm first; "
			      "test -z \"$(git status --porcelain)\"; "
			      "echo change >> f1; git mv f2 g2; git rm -q f3; "
			      "git commit -qam second; "
			      "git checkout -q -b topic; echo t > t; git add t; "
			      "git commit -qm topic; git checkout -q main; "
			      "git merge -q --no-ff --no-edit topic; "
			      "test -z \"$(git status --porcelain)\"; "
			      "git gc -q; git fsck --full --strict; "
			      "test \"$(git rev-list --count HEAD)\" = 4; "
			      "test -z \"$(git status --porcelain)\"; "
			      "test \"$(git show HEAD~1:f1)\" = \"$(printf '1\\nchange')\""),
		0);
	commit_view();
	ck_assert_int_eq(bfs_sh(at(m.base, "repo"),
				GIT "git fsck --full --strict; "
				    "test \"$(git log --oneline | wc -l)\" = 4; "
				    "test -z \"$(git status --porcelain)\"; "
				    "test \"$(cat t)\" = t; test ! -e f3"),
			 0);
}
END_TEST

/* The base already holds a repository; a branch works on it, a sibling
 * keeps the old history, and the commit brings the new one into the base. */
START_TEST(git_repository_of_the_base)
{
	char ctl[4096];

	bfs_mount_stop(&m);
	ck_assert_int_eq(bfs_sh(m.base, GIT "git init -q repo; cd repo; "
					    "for i in $(seq 40); do echo $i > f$i; done; "
					    "git add -A; git commit -qm one; echo x >> f1; "
					    "git commit -qam two"),
			 0);
	bfs_mount_start(&m, NULL);
	ck_ret(bfs_branch_create(&m, NULL, "work"), 0);
	ck_ret(bfs_branch_create(&m, NULL, "other"), 0);
	ck_assert_int_eq(bfs_sh(at(m.mnt, "@work/repo"),
				GIT "test -z \"$(git status --porcelain)\"; "
				    "for i in $(seq 20); do echo y >> f$i; done; git rm -q f40; "
				    "git commit -qam three; git tag v3; "
				    "git repack -adq; git prune; git gc -q --prune=now; "
				    "git fsck --full --strict; "
				    "test \"$(git rev-list --count HEAD)\" = 3; "
				    "test -z \"$(git status --porcelain)\""),
			 0);
	/* The sibling still has the two-commit history, intact. */
	ck_assert_int_eq(bfs_sh(at(m.mnt, "@other/repo"),
				GIT "git fsck --full --strict; "
				    "test \"$(git rev-list --count HEAD)\" = 2; "
				    "test -z \"$(git status --porcelain)\""),
			 0);
	ck_ret(bfs_ioc_commit(bfs_ctl_path(ctl, &m, "work")), 0);
	ck_assert_int_eq(bfs_sh(at(m.base, "repo"),
				GIT "git fsck --full --strict; "
				    "test \"$(git rev-list --count HEAD)\" = 3; "
				    "test \"$(git describe --tags)\" = v3; "
				    "test -z \"$(git status --porcelain)\"; test ! -e f40"),
			 0);
	ck_ret(bfs_ioc_abort(bfs_ctl_path(ctl, &m, "other")), 0);
}
END_TEST

/* Changes made by the shell in the tar tests, to the branch and the model. */
#define TAR_CHANGES                                                                     \
	"set -e; echo changed > src/f10.c; rm src/f2.c; mv src/f3.c docs/moved.c; "     \
	"mkdir -p new/empty; echo n > new/n; ln new/n new/n-link; ln -s ../src new/s; " \
	"chmod 0600 src/f4.c; chown 12:34 src/f5.c; mv src/lib src/lib2; "              \
	"mkfifo new/fifo"

START_TEST(tar_out_of_a_branch)
{
	char model[4096], out[4096], *want, *got;

	use_view(_i);
	bfs_path(model, m.dir, "model");
	bfs_path(out, m.dir, "out");
	ck_assert_int_eq(bfs_sh(NULL, "cp -a '%s' '%s' && mkdir '%s'", m.base, model, out), 0);
	ck_assert_int_eq(bfs_sh(model, TAR_CHANGES), 0);
	ck_assert_int_eq(bfs_sh(W, TAR_CHANGES), 0);
	ck_assert_int_eq(bfs_sh(W, "tar --format=posix -cf '%s/t.tar' src docs new", m.dir), 0);
	ck_assert_int_eq(bfs_sh(out, "tar -xpf ../t.tar"), 0);
	/* The archive holds the branch as it is (times included) ... */
	got = bfs_tree_dump(out, BFS_DUMP_ALL & ~BFS_DUMP_XATTR);
	want = bfs_tree_dump(W, (BFS_DUMP_ALL & ~BFS_DUMP_XATTR) |
					(V == AT_BRANCH ? BFS_DUMP_NOCTL : BFS_DUMP_MOUNT));
	ck_tree_eq(got, want);
	free(want);
	free(got);
	/* ... which is the base plus the changes. */
	got = bfs_tree_dump(out, BFS_DUMP_ALL & ~BFS_DUMP_MTIME);
	want = bfs_tree_dump(model, BFS_DUMP_ALL & ~BFS_DUMP_MTIME);
	ck_tree_eq(got, want);
	free(want);
	free(got);
}
END_TEST

/* Editing a file and archiving its directory: tar sees nothing change
 * under it ("file changed as we read it" makes it exit 1). */
START_TEST(tar_after_editing_a_file)
{
	use_view(_i);
	ck_assert_int_eq(bfs_sh(W, "echo edited > src/f10.c"), 0);
	ck_assert_int_eq(bfs_sh(W, "tar -cf '%s/t.tar' src", m.dir), 0);
	ck_assert_int_eq(bfs_sh(m.dir, "tar -xOf t.tar src/f10.c | grep -qx edited"), 0);
}
END_TEST

/* A file of a base pair of hard links changed in the branch: a copy that
 * keeps hard links (cp -a, tar, rsync -H) must get both names right. */
START_TEST(copy_of_a_changed_hard_link)
{
	char out[4096];

	use_view(_i);
	bfs_path(out, m.dir, "out");
	ck_assert_int_eq(bfs_sh(W, "echo changed > src/f1.c"), 0);
	ck_assert_int_eq(bfs_sh(W, "cp -a src '%s'", out), 0);
	ck_assert_int_eq(
		bfs_sh(out, "cmp f1.c '%s/src/f1.c' && cmp f1-link.c '%s/src/f1-link.c'", W, W), 0);
	ck_file_eq(at(W, "src/f1.c"), "changed\n");
	ck_file_eq(at(W, "src/f1-link.c"), "changed\n");
}
END_TEST

START_TEST(tar_into_a_branch)
{
	char *want, *got;

	use_view(_i);
	ck_assert_int_eq(bfs_sh(m.base, "tar --format=posix -cf ../src.tar src docs"), 0);
	want = bfs_tree_dump(m.base, BFS_DUMP_ALL & ~BFS_DUMP_XATTR);
	ck_assert_int_eq(bfs_sh(W, "mkdir x && cd x && tar -xpf '%s/src.tar'", m.dir), 0);
	got = bfs_tree_dump(at(W, "x"), BFS_DUMP_ALL & ~BFS_DUMP_XATTR);
	ck_tree_eq(got, want);
	free(got);
	/* Extracting over the existing tree replaces it in place. */
	ck_assert_int_eq(
		bfs_sh(W, "echo mess > src/f1.c && rm docs/readme && tar -xpf '%s/src.tar'", m.dir),
		0);
	ck_assert_int_eq(bfs_sh(W, "diff -r src x/src && diff -r docs x/docs"), 0);
	commit_view();
	ck_assert_int_eq(bfs_sh(m.base, "diff -r src x/src && diff -r docs x/docs"), 0);
	free(want);
}
END_TEST

#define SQL_FILL                                                                       \
	"set -e; for j in $(seq 10); do "                                              \
	"echo \"BEGIN; $(for i in $(seq 200); do echo \"INSERT INTO t VALUES($j, $i, " \
	"randomblob(300));\"; done) COMMIT;\"; done | sqlite3 %s; "                    \
	"test \"$(sqlite3 %s 'PRAGMA integrity_check')\" = ok; "                       \
	"test \"$(sqlite3 %s 'SELECT count(*) FROM t')\" = 2000; "                     \
	"sqlite3 %s 'DELETE FROM t WHERE b %% 2 = 0; VACUUM;'; "                       \
	"test \"$(sqlite3 %s 'SELECT count(*) FROM t')\" = 1000; "                     \
	"test \"$(sqlite3 %s 'PRAGMA integrity_check')\" = ok"

START_TEST(sqlite_databases)
{
	if (!bfs_have("sqlite_databases", "sqlite3 binary", "command -v sqlite3 >/dev/null"))
		return;
	use_view(_i);
	ck_assert_int_eq(bfs_sh(W, "sqlite3 wal.db 'PRAGMA journal_mode=WAL; "
				   "CREATE TABLE t(a, b, c)' >/dev/null && "
				   "sqlite3 del.db 'PRAGMA journal_mode=DELETE; "
				   "CREATE TABLE t(a, b, c)' >/dev/null"),
			 0);
	ck_assert_int_eq(
		bfs_sh(W, SQL_FILL, "wal.db", "wal.db", "wal.db", "wal.db", "wal.db", "wal.db"), 0);
	ck_assert_int_eq(
		bfs_sh(W, SQL_FILL, "del.db", "del.db", "del.db", "del.db", "del.db", "del.db"), 0);
	commit_view();
	ck_assert_int_eq(bfs_sh(m.base, "set -e; for d in wal.db del.db; do "
					"test \"$(sqlite3 $d 'PRAGMA integrity_check')\" = ok; "
					"test \"$(sqlite3 $d 'SELECT count(*) FROM t')\" = 1000; "
					"done"),
			 0);
}
END_TEST

START_TEST(make_and_cc)
{
	use_view(_i);
	ck_assert_int_eq(bfs_sh(W, "set -e; mkdir build; cd build; "
				   "printf 'int main(void) { return 42; }\\n' > prog.c; "
				   "printf 'prog: prog.c\\n\\tcc -o prog prog.c\\n"
				   "out: in\\n\\tcp in out\\n' > Makefile; "
				   "echo one > in; make -s prog out; "
				   "set +e; ./prog; test $? = 42 || exit 1; set -e; "
				   "make -q prog out; "
				   "touch in; ! make -q out; make -s out; make -q out; "
				   "echo two > in; make -s out; test \"$(cat out)\" = two"),
			 0);
	commit_view();
	ck_assert_int_eq(bfs_sh(at(m.base, "build"),
				"set -e; make -q prog out; set +e; ./prog; test $? = 42"),
			 0);
}
END_TEST

START_TEST(editor_saves)
{
	use_view(_i);
	ck_assert_int_eq(
		bfs_sh(W, "set -e; sed -i 's/line/LINE/' src/f1.c src/f6.c; "
			  "test \"$(cat src/f1.c)\" = 'LINE 1'; "
			  /* save with a backup made by rename, as vim's backupcopy=no */
			  "mv src/f7.c src/f7.c~; echo saved > src/f7.c; "
			  /* write aside and rename over, as most editors */
			  "echo aside > src/.f8.c.swp; mv src/.f8.c.swp src/f8.c; "
			  "test \"$(cat src/f7.c~)\" = 'line 7'; test \"$(cat src/f8.c)\" = aside; "
			  "cp -a src src.bak; diff -r src src.bak; "
			  "test \"$(stat -c %%Y.%%y src/f9.c)\" = \"$(stat -c %%Y.%%y "
			  "src.bak/f9.c)\""),
		0);
	commit_view();
	ck_assert_int_eq(bfs_sh(m.base, "set -e; test \"$(cat src/f7.c)\" = saved; "
					"test \"$(cat src/f7.c~)\" = 'line 7'; "
					"test \"$(cat src/f6.c)\" = 'LINE 6'; diff -r src src.bak"),
			 0);
}
END_TEST

/*
 * A directory on the plain disk whose path is as long as W's, so that
 * what a tool writes with its own path inside (a venv's scripts, compiled
 * Python files) has the same size in both.
 */
static const char *native_twin(void)
{
	static char nat[4096];

	snprintf(nat, sizeof(nat), "%s/nat%s", m.dir, W + strlen(m.mnt));
	ck_assert_int_eq(bfs_sh(NULL, "mkdir -p '%s'", nat), 0);
	return nat;
}

/* Runs script in W and in its native twin; what it left under each of the
 * space-separated dirs must be the same, the paths of the two aside
 * (tools/tree_sums.py). */
static void same_as_on_disk(const char *script, const char *dirs)
{
	const char *nat = native_twin();
	char list[256], *save, *d;

	ck_assert_int_eq(bfs_sh(nat, "%s", script), 0);
	ck_assert_int_eq(bfs_sh(W, "%s", script), 0);
	snprintf(list, sizeof(list), "%s", dirs);
	for (d = strtok_r(list, " ", &save); d; d = strtok_r(NULL, " ", &save)) {
		unsigned int dump = BFS_DUMP_OWNER | BFS_DUMP_LINKS | BFS_DUMP_NODATA;
		char *want = bfs_tree_dump(at(nat, d), dump);
		char *got = bfs_tree_dump(at(W, d), dump);

		ck_tree_eq(got, want);
		free(want);
		free(got);
	}
	ck_assert_int_eq(bfs_sh(nat, "/usr/bin/python3 '%s' %s > '%s/sums.nat'",
				TOOLS "/tree_sums.py", dirs, m.dir),
			 0);
	ck_assert_int_eq(bfs_sh(W, "/usr/bin/python3 '%s' %s > '%s/sums.bfs'",
				TOOLS "/tree_sums.py", dirs, m.dir),
			 0);
	ck_assert_int_eq(bfs_sh(m.dir, "cmp sums.nat sums.bfs"), 0);
}

/* Commits the branch; the space-separated dirs of W must land in the base
 * as they were, times and contents included. */
static void commit_lands_whole(const char *dirs)
{
	unsigned int dump = BFS_DUMP_OWNER | BFS_DUMP_LINKS | BFS_DUMP_MTIME;
	char list[256], *save, *d, sums[4096], *want[8];
	int n = 0;

	bfs_path(sums, m.dir, "sums");
	ck_assert_int_eq(bfs_sh(W, "find %s -type f -print0 | sort -z | xargs -0 sha256sum > '%s'",
				dirs, sums),
			 0);
	snprintf(list, sizeof(list), "%s", dirs);
	for (d = strtok_r(list, " ", &save); d && n < 8; d = strtok_r(NULL, " ", &save))
		want[n++] = bfs_tree_dump(at(W, d), dump);
	commit_view();
	snprintf(list, sizeof(list), "%s", dirs);
	n = 0;
	for (d = strtok_r(list, " ", &save); d && n < 8; d = strtok_r(NULL, " ", &save)) {
		char *got = bfs_tree_dump(at(m.base, d), dump);

		ck_tree_eq(got, want[n]);
		free(got);
		free(want[n++]);
	}
	ck_assert_int_eq(bfs_sh(m.base, "sha256sum -c --quiet '%s'", sums), 0);
}

/*
 * pip in a venv made in the branch: ensurepip unpacks pip and setuptools
 * (about 1,700 files), a wheel is installed with its console script, a
 * reinstall swaps setuptools out through pip's stash of renamed
 * directories, an uninstall removes the wheel, and it goes in again.
 */
START_TEST(pip_in_a_venv)
{
	char script[8192];

	if (!bfs_have("pip_in_a_venv", "python3-venv",
		      "/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null && "
		      "ls /usr/share/python-wheels/setuptools-*.whl >/dev/null"))
		return;
	use_view(_i);
	snprintf(script, sizeof(script),
		 "set -e; unset PYTHONDONTWRITEBYTECODE $(env | sed -n "
		 "'s/^\\(PIP_[A-Z_]*\\)=.*/\\1/p'); "
		 "export PIP_NO_INDEX=1 PIP_NO_CACHE_DIR=1 PIP_CONFIG_FILE=/dev/null "
		 "PIP_DISABLE_PIP_VERSION_CHECK=1 SOURCE_DATE_EPOCH=1000000000; "
		 "/usr/bin/python3 -m venv venv; "
		 "mkdir pkgs; (cd pkgs && /usr/bin/python3 '%s'); "
		 "venv/bin/pip install -q pkgs/hello-1.0-py3-none-any.whl; "
		 "test \"$(venv/bin/hello)\" = 'hello from a wheel'; "
		 "venv/bin/pip install -q --force-reinstall "
		 "/usr/share/python-wheels/setuptools-*.whl; "
		 "venv/bin/pip uninstall -q -y hello; test ! -e venv/bin/hello; "
		 "venv/bin/pip install -q pkgs/hello-1.0-py3-none-any.whl; venv/bin/pip check -q; "
		 "venv/bin/python -W ignore -c 'import hello, setuptools, pip'",
		 TOOLS "/make_wheel.py");
	same_as_on_disk(script, "venv pkgs");
	commit_lands_whole("venv pkgs");
	/* Through the root, whose path the venv's scripts name, it runs. */
	if (V != AT_BRANCH)
		ck_assert_int_eq(bfs_sh(m.mnt,
					"test \"$(venv/bin/hello)\" = 'hello from a wheel' && "
					"venv/bin/pip list 2>/dev/null | grep -q '^hello '"),
				 0);
}
END_TEST

/*
 * npm, offline: a package with a command and 40 modules is packed, then
 * installed from its tarball through npm's cache in the branch, reinstalled
 * from the lock file by npm ci, uninstalled and installed again.
 */
START_TEST(npm_install_and_ci)
{
	char script[4096];

	if (!bfs_have("npm_install_and_ci", "node, npm or python3",
		      "command -v node >/dev/null && command -v npm >/dev/null && "
		      "test -x /usr/bin/python3"))
		return;
	use_view(_i);
	snprintf(script, sizeof(script),
		 "set -e; export HOME='%s/home' npm_config_cache=\"$PWD/npm-cache\" "
		 "npm_config_offline=true npm_config_audit=false npm_config_fund=false "
		 "npm_config_update_notifier=false npm_config_logs_max=0 "
		 "npm_config_userconfig=/dev/null; "
		 "mkdir -p dep/lib/a/b app; "
		 "for i in $(seq 40); do echo \"module.exports = $i;\" > dep/lib/a/b/m$i.js; done; "
		 "echo '{\"name\": \"dep\", \"version\": \"1.0.0\", \"main\": \"index.js\", "
		 "\"bin\": {\"dep-hello\": \"cli.js\"}}' > dep/package.json; "
		 "echo 'module.exports = () => \"hello from dep \" + "
		 "require(\"./lib/a/b/m40.js\");' "
		 "> dep/index.js; "
		 "printf '#!/usr/bin/env node\\nconsole.log(require(\"./index.js\")())\\n' > "
		 "dep/cli.js; "
		 "chmod +x dep/cli.js; (cd dep && npm pack --silent >/dev/null); cd app; "
		 "echo '{\"name\": \"app\", \"version\": \"1.0.0\", \"private\": true}' > "
		 "package.json; "
		 "npm install --silent ../dep/dep-1.0.0.tgz; "
		 "test \"$(node_modules/.bin/dep-hello)\" = 'hello from dep 40'; "
		 "npm ci --silent; npm ls dep >/dev/null; "
		 "npm uninstall --silent dep; test ! -e node_modules/dep; "
		 "npm install --silent ../dep/dep-1.0.0.tgz; "
		 "test \"$(node -e 'console.log(require(\"dep\")())')\" = 'hello from dep 40'; "
		 "npm cache verify >/dev/null",
		 m.dir);
	same_as_on_disk(script, "dep app");
	commit_lands_whole("dep app npm-cache");
	ck_assert_int_eq(bfs_sh(at(m.base, "app"), "test \"$(node_modules/.bin/dep-hello)\" = "
						   "'hello from dep 40'"),
			 0);
}
END_TEST

/* pnpm, offline, with its store in the project: package files are hard
 * links of the store's (import method "hardlink", as pnpm does on one
 * filesystem).  The store's timestamps of its last checks are set to 0,
 * so that two runs compare equal. */
#define PNPM                                                               \
	"set -e; export HOME='%s/home' npm_config_update_notifier=false; " \
	"S=\"--store-dir $PWD/store\"; "                                   \
	"P=\"pnpm --offline $S --config.package-import-method=hardlink --reporter=silent\"; "
#define PNPM_SAME                                                                  \
	"sed -i -E 's/\"checkedAt\":[0-9]+/\"checkedAt\":0/g' $(find store -name " \
	"'*-index.json'); "                                                        \
	"sed -i 's/^prunedAt: .*/prunedAt: -/' app/node_modules/.modules.yaml"

/*
 * pnpm adds a packed package (from its tarball) to a project, which links
 * its files from the store; the project is installed again from the lock
 * file.  Then, in a branch of what landed, a package file is changed in
 * place through node_modules, which changes the store's file too (one
 * inode, as on a disk); pnpm finds the store mutated and fetches the
 * package again; the base keeps both names of the unchanged file.
 */
START_TEST(pnpm_store_links)
{
	char script[4096], b2[4096];

	if (!bfs_have("pnpm_store_links", "pnpm or node",
		      "command -v pnpm >/dev/null && command -v node >/dev/null && "
		      "test -x /usr/bin/python3"))
		return;
	use_view(_i);
	snprintf(script, sizeof(script),
		 PNPM
		 "mkdir -p dep/lib/a/b app; "
		 "for i in $(seq 40); do echo \"module.exports = $i;\" > dep/lib/a/b/m$i.js; done; "
		 "echo '{\"name\": \"dep\", \"version\": \"1.0.0\", \"main\": \"index.js\", "
		 "\"bin\": {\"dep-hello\": \"cli.js\"}}' > dep/package.json; "
		 "echo 'module.exports = () => \"hello from dep \" + "
		 "require(\"./lib/a/b/m40.js\");' > dep/index.js; "
		 "printf '#!/usr/bin/env node\\nconsole.log(require(\"./index.js\")())\\n' > "
		 "dep/cli.js; chmod +x dep/cli.js; (cd dep && npm pack --silent >/dev/null); "
		 "cd app; echo '{\"name\": \"app\", \"version\": \"1.0.0\", \"private\": true}' "
		 "> package.json; $P add ../dep/dep-1.0.0.tgz; "
		 "test \"$(node_modules/.bin/dep-hello)\" = 'hello from dep 40'; "
		 "test \"$(stat -c %%h node_modules/dep/index.js)\" = 2; "
		 "test \"$(find ../store -samefile node_modules/dep/index.js | wc -l)\" = 1; "
		 "rm -rf node_modules; $P install --frozen-lockfile; "
		 "test \"$(node -e 'console.log(require(\"dep\")())')\" = 'hello from dep 40'; "
		 "pnpm store status $S >/dev/null; cd ..; " PNPM_SAME,
		 m.dir);
	same_as_on_disk(script, "dep app store");
	commit_lands_whole("dep app store");
	ck_ret(bfs_branch_create(&m, NULL, "b2"), 0);
	bfs_branch_dir(b2, &m, "b2");
	snprintf(script, sizeof(script),
		 PNPM
		 "cd app; f=node_modules/dep/index.js; "
		 "test \"$(stat -c %%h $f)\" = 2; s=$(find ../store -samefile $f); test -n \"$s\"; "
		 "echo '// patched' >> $f; tail -1 \"$s\" | grep -q patched; "
		 "test \"$(stat -c %%h $f)\" = 2; "
		 "rm -rf node_modules; $P install --frozen-lockfile; "
		 "! grep -q patched node_modules/dep/index.js; pnpm store status $S >/dev/null; "
		 "test \"$(node_modules/.bin/dep-hello)\" = 'hello from dep 40'",
		 m.dir);
	ck_assert_int_eq(bfs_sh(b2, "%s", script), 0);
	ck_assert_int_eq(bfs_sh(m.base,
				"cd app; f=node_modules/dep/index.js; ! grep -q patched $f; "
				"test \"$(stat -c %%h $f)\" = 2; "
				"test \"$(find ../store -samefile $f | wc -l)\" = 1"),
			 0);
	ck_ret(bfs_ioc_abort(bfs_ctl_path(b2, &m, "b2")), 0);
}
END_TEST

/* A source tree with what rsync -aHAX carries: hard links across
 * directories, a symlink, a FIFO, an empty directory, a user xattr, an
 * ACL, a setuid file and nanosecond mtimes (a symlink's or a FIFO's must be
 * a second older than the copy, or rsync does not set it). */
#define RSYNC_TREE                                                                    \
	"set -e; mkdir -p rs/a/b/c rs/d rs/empty; "                                   \
	"for i in $(seq 20); do head -c $((i * 300)) /dev/urandom > rs/a/f$i; done; " \
	"ln rs/a/f1 rs/a/b/hl; ln rs/a/f1 rs/d/hl; ln -s ../f2 rs/a/b/sym; "          \
	"mkfifo rs/d/fifo; setfattr -n user.note -v hello rs/a/f3; "                  \
	"setfacl -m u:65534:rw rs/a/f4; chmod 4755 rs/a/f6; "                         \
	"touch -d '2001-01-01 00:00:00.123456789' rs/a/f5; "                          \
	"touch -h -d @1000000000.5 rs/a/b/sym rs/d/fifo"
/* Changes to it: a hard-linked file rewritten, a file and an xattr
 * removed, directories renamed, a mode changed, a new link. */
#define RSYNC_CHANGES                                                            \
	"set -e; cd rs; echo changed >> a/f1; rm a/f7; mv a/b a/bb; mv d a/dd; " \
	"setfattr -x user.note a/f3; chmod 600 a/f8; ln a/f9 a/dd/f9-link"
/* rsync itself finds nothing to send from the source to dst. */
#define RSYNC_SAME "test -z \"$(rsync -aHAXn --delete -i rs/ '%s/rs/')\""

/* rsync -aHAX into a view makes a copy rsync finds identical, and so does
 * a second rsync --delete of the changed source; a branch made in between
 * keeps the first copy; after the commit the base holds the second. */
START_TEST(rsync_mirrors)
{
	char c[4096], *first, *got;

	if (!bfs_have("rsync_mirrors", "rsync, setfattr or setfacl",
		      "{ command -v rsync && command -v setfattr && command -v setfacl; } "
		      ">/dev/null"))
		return;
	use_view(_i);
	ck_assert_int_eq(bfs_sh(m.dir, RSYNC_TREE), 0);
	ck_assert_int_eq(bfs_sh(m.dir, "rsync -aHAX rs/ '%s/rs/'", W), 0);
	ck_assert_int_eq(bfs_sh(m.dir, RSYNC_SAME, W), 0);
	first = bfs_tree_dump(at(m.dir, "rs"), BFS_DUMP_ALL);
	got = bfs_tree_dump(at(W, "rs"), BFS_DUMP_ALL);
	ck_tree_eq(got, first);
	free(got);

	ck_ret(bfs_branch_create(&m, V == AT_BRANCH ? "b" : NULL, "c"), 0);
	ck_assert_int_eq(bfs_sh(m.dir, RSYNC_CHANGES), 0);
	ck_assert_int_eq(bfs_sh(m.dir, "rsync -aHAX --delete rs/ '%s/rs/'", W), 0);
	ck_assert_int_eq(bfs_sh(m.dir, RSYNC_SAME, W), 0);
	got = bfs_tree_dump(at(bfs_branch_dir(c, &m, "c"), "rs"), BFS_DUMP_ALL);
	ck_tree_eq(got, first);
	free(got);
	free(first);

	ck_ret(bfs_ioc_abort(bfs_ctl_path(c, &m, "c")), 0);
	commit_view();
	ck_assert_int_eq(bfs_sh(m.dir, RSYNC_SAME, m.base), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tools");
	TCase *tc = tcase_create("shell");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_loop_test(tc, git_new_repository, 0, NVIEWS);
	tcase_add_test(tc, git_repository_of_the_base);
	tcase_add_loop_test(tc, tar_out_of_a_branch, 0, NVIEWS);
	tcase_add_loop_test(tc, tar_after_editing_a_file, 0, NVIEWS);
	tcase_add_loop_test(tc, copy_of_a_changed_hard_link, 0, NVIEWS);
	tcase_add_loop_test(tc, tar_into_a_branch, 0, NVIEWS);
	tcase_add_loop_test(tc, sqlite_databases, 0, NVIEWS);
	tcase_add_loop_test(tc, make_and_cc, 0, NVIEWS);
	tcase_add_loop_test(tc, editor_saves, 0, NVIEWS);
	tcase_add_loop_test(tc, pip_in_a_venv, 0, NVIEWS);
	tcase_add_loop_test(tc, npm_install_and_ci, 0, NVIEWS);
	tcase_add_loop_test(tc, pnpm_store_links, 0, NVIEWS);
	tcase_add_loop_test(tc, rsync_mirrors, 0, NVIEWS);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return bfs_check_main(suite());
}
