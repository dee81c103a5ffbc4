/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The filesystem core object: setting up base and storage, the per-request
 * lock helper, inode numbers, switching, the trash reclaimer and shutdown.
 */
#include "bfsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/*
 * Storage is private (0700): one made by an older version, by hand or with
 * a umask that let others in is tightened at mount, and one we cannot
 * tighten is refused.
 */
static int make_private(struct bfsd_fs *fs, int fd, const char *name)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!(st.st_mode & 077))
		return 0;
	if (fchmod(fd, 0700) < 0) {
		int ret = -errno;

		bfsd_err("storage %s%s%s is open to others (mode %03o) and cannot be made private: "
			 "%s",
			 fs->storage_path, name[0] ? "/" : "", name, st.st_mode & 0777,
			 bfsd_strerror(-ret));
		return ret;
	}
	bfsd_warn("storage %s%s%s was open to others (mode %03o): made it 700", fs->storage_path,
		  name[0] ? "/" : "", name, st.st_mode & 0777);
	return 0;
}

static int open_dir(struct bfsd_fs *fs, const char *name, int *fd)
{
	if (mkdirat(fs->storage_fd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	*fd = openat(fs->storage_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return *fd < 0 ? -errno : make_private(fs, *fd, name);
}

/* Take the storage lock and check that it belongs to this base. */
static int claim_storage(struct bfsd_fs *fs)
{
	char recorded[PATH_MAX];
	ssize_t n;
	int fd;

	fs->lock_fd = openat(fs->storage_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fs->lock_fd < 0)
		return -errno;
	if (flock(fs->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		bfsd_err("storage %s is in use by another branchfs mount", fs->storage_path);
		return -EBUSY;
	}
	fd = openat(fs->storage_fd, "base", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, recorded, sizeof(recorded) - 1);
		close(fd);
		recorded[n > 0 ? n : 0] = '\0';
		if (n > 0 && strcmp(recorded, fs->base_path) &&
		    faccessat(fs->storage_fd, "state", F_OK, 0) == 0) {
			bfsd_err("storage %s belongs to base %s, not %s", fs->storage_path,
				 recorded, fs->base_path);
			return -EXDEV;
		}
	}
	fd = openat(fs->storage_fd, "base", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	n = bfsd_write_all(fd, fs->base_path, strlen(fs->base_path));
	close(fd);
	return (int)n;
}

/* Markers need xattrs in storage: check once, with a clear error. */
static int check_xattrs(struct bfsd_fs *fs)
{
	char path[PATH_MAX], name[64];
	static const char v = '1';
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/work/.xattr-probe", fs->storage_path);
	snprintf(name, sizeof(name), "%sprobe", fs->xattr_prefix);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	if (lsetxattr(path, name, &v, 1, 0) < 0) {
		ret = -errno;
		bfsd_err("storage %s does not support extended attributes (%s): branchfs "
			 "needs them for whiteouts and renames",
			 fs->storage_path, bfsd_strerror(errno));
	}
	unlink(path);
	return ret;
}

static int open_base(struct bfsd_fs *fs, const char *base)
{
	char real[PATH_MAX];
	struct stat st;
	int ret;

	if (!realpath(base, real))
		return -errno;
	fs->base_path = strdup(real);
	if (!fs->base_path)
		return -ENOMEM;
	ret = bfsd_layer_open(fs, BFSD_LAYER_BASE, 0, real, &fs->base);
	if (ret)
		return ret;
	if (fstat(fs->base->dirfd, &st) < 0)
		return -errno;
	fs->base_dev = st.st_dev;
	return 0;
}

static int open_storage(struct bfsd_fs *fs, const char *storage)
{
	char path[PATH_MAX];
	struct stat st;
	int ret;

	ret = bfsd_mkdir_p(storage);
	if (ret)
		return ret;
	if (!realpath(storage, path))
		return -errno;
	fs->storage_path = strdup(path);
	if (!fs->storage_path)
		return -ENOMEM;
	fs->storage_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->storage_fd < 0)
		return -errno;
	if (fstat(fs->storage_fd, &st) < 0)
		return -errno;
	fs->storage_dev = st.st_dev;
	ret = make_private(fs, fs->storage_fd, "");
	if (!ret)
		ret = claim_storage(fs);
	if (!ret)
		ret = open_dir(fs, "layers", &fs->layers_fd);
	if (!ret)
		ret = open_dir(fs, "work", &fs->work_fd);
	if (!ret)
		ret = open_dir(fs, "trash", &fs->trash_fd);
	if (!ret)
		ret = check_xattrs(fs);
	if (ret)
		return ret;
	/* Whatever was under construction when we died is garbage. */
	close(fs->work_fd);
	bfsd_rm_rf_at(fs->storage_fd, "work");
	ret = open_dir(fs, "work", &fs->work_fd);
	if (!ret) {
		snprintf(path, sizeof(path), "%s/work", fs->storage_path);
		ret = bfsd_layer_open(fs, BFSD_LAYER_WORK, 0, path, &fs->work);
	}
	return ret;
}

static void init_locks(struct bfsd_fs *fs)
{
	pthread_rwlockattr_t attr;
	pthread_condattr_t cattr;

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs->tree_lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_rwlock_init(&fs->lower_lock, NULL);
	pthread_mutex_init(&fs->files_lock, NULL);
	pthread_mutex_init(&fs->links_lock, NULL);
	pthread_mutex_init(&fs->spare_lock, NULL);
	pthread_mutex_init(&fs->root_lock, NULL);
	pthread_mutex_init(&fs->reclaim_lock, NULL);
	for (size_t i = 0; i < sizeof(fs->size_locks) / sizeof(fs->size_locks[0]); i++)
		pthread_mutex_init(&fs->size_locks[i], NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->reclaim_cond, &cattr);
	pthread_condattr_destroy(&cattr);
}

static void scan_branch(struct bfsd_branch *b, void *arg)
{
	for (int i = 0; i < b->nlayers; i++)
		bfsd_quota_scan(arg, b->layers[i]);
}

/* Count what storage holds, then enforce the quota from now on. */
static void quota_arm(struct bfsd_fs *fs)
{
	bfsd_branch_each(fs, scan_branch, fs);
	for (size_t i = 0; i < fs->npres; i++)
		bfsd_quota_scan(fs, fs->pres[i]);
	fs->quota_armed = true;
}

int bfsd_fs_open(const struct bfsd_options *opt, struct bfsd_fs **out)
{
	struct bfsd_fs *fs = calloc(1, sizeof(*fs));
	int ret;

	if (!fs)
		return -ENOMEM;
	fs->storage_fd = fs->work_fd = fs->trash_fd = fs->layers_fd = -1;
	fs->log_fd = fs->lock_fd = fs->journal_fd = -1;
	fs->keep = opt->keep;
	fs->durable = opt->durable;
	fs->is_root = geteuid() == 0;
	fs->next_branch_id = 1;
	fs->next_layer_id = 1;
	snprintf(fs->xattr_prefix, sizeof(fs->xattr_prefix), "%s.branchfs.",
		 fs->is_root ? "trusted" : "user");
	fs->xattr_prefix_len = strlen(fs->xattr_prefix);
	init_locks(fs);
	ret = open_base(fs, opt->base);
	if (!ret)
		ret = open_storage(fs, opt->storage);
	if (!ret)
		ret = bfsd_store_load(fs);
	if (!ret)
		ret = bfsd_store_compact(fs);
	if (!ret)
		ret = bfsd_journal_recover(fs);
	if (ret) {
		bfsd_fs_close(fs);
		return ret;
	}
	fs->quota = opt->quota;
	if (fs->quota)
		quota_arm(fs);
	*out = fs;
	return 0;
}

/* Free b and its descendants without touching storage. */
static void forget_tree(struct bfsd_branch *b)
{
	while (b->children) {
		struct bfsd_branch *c = b->children;

		b->children = c->sibling;
		forget_tree(c);
	}
	b->dead = true;
	bfsd_branch_put(b);
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

void bfsd_fs_unmounted(struct bfsd_fs *fs)
{
	bfsd_store_stop_reclaimer(fs);
	if (!fs->main || fs->log_fd < 0)
		return;
	/* A commit that cannot finish keeps every branch, its own included,
	 * for the next mount to finish it. */
	if (fs->pending && bfsd_commit_resume(fs, NULL))
		bfsd_err("the commit of '%s' is unfinished: branches are kept and it finishes at "
			 "the next mount",
			 fs->pending->name);
	if (!fs->keep && !fs->pending) {
		while (fs->main->children)
			bfsd_branch_discard(fs, fs->main->children);
		bfsd_epoch_release(fs);
	}
	/* The next mount starts on main (a crash instead resumes). */
	fs->current = fs->main;
	bfsd_store_compact(fs);
}

void bfsd_fs_close(struct bfsd_fs *fs)
{
	if (!fs)
		return;
	bfsd_store_stop_reclaimer(fs);
	/* Spare layer directories are empty: remove them. */
	for (int i = 0; i < fs->nspare && fs->layers_fd >= 0; i++) {
		char name[32];

		snprintf(name, sizeof(name), "%llu", (unsigned long long)fs->spare[i]);
		unlinkat(fs->layers_fd, name, AT_REMOVEDIR);
	}
	fs->nspare = 0;
	/* What is still in the tree now is kept for the next mount. */
	fs->keep_layers = true;
	if (fs->main)
		forget_tree(fs->main);
	for (size_t i = 0; i < fs->npres; i++)
		bfsd_layer_put(fs->pres[i]);
	free(fs->pres);
	bfsd_cache_free_garbage(fs);
	if (fs->trash_fd >= 0)
		bfsd_store_reclaim(fs);
	bfsd_layer_put(fs->base);
	bfsd_layer_put(fs->work);
	bfsd_oplist_free(&fs->pending_ops);
	bfsd_oplist_free(&fs->remade);
	free(fs->bhash);
	free(fs->files);
	bfsd_links_free_all(fs);
	close_fd(fs->journal_fd);
	close_fd(fs->log_fd);
	close_fd(fs->work_fd);
	close_fd(fs->trash_fd);
	close_fd(fs->layers_fd);
	close_fd(fs->storage_fd);
	close_fd(fs->lock_fd);
	free(fs->base_path);
	free(fs->storage_path);
	free(fs);
}

void bfsd_fs_tmpname(struct bfsd_fs *fs, char *out)
{
	unsigned long long seq = atomic_fetch_add(&fs->tmp_seq, 1);

	snprintf(out, NAME_MAX + 1, ".branchfs-tmp-%d-%llu", (int)getpid(), seq);
}

void bfsd_fs_copyname(struct bfsd_fs *fs, const struct bfsd_branch *b, char *out)
{
	unsigned long long seq = atomic_fetch_add(&fs->tmp_seq, 1);

	snprintf(out, NAME_MAX + 1, "%s%llu-%llu", BFSD_COPY_PREFIX, (unsigned long long)b->id,
		 seq);
}

/*
 * Storage objects and base objects number apart by layer, not by device:
 * storage on the base's filesystem (where a commit is a rename) shares its
 * inode numbers, and a copy keeps the number of a base file main may since
 * have removed, whose number the filesystem then gives to a new file, in
 * storage too: a symlink a branch made took the number its copy of a link
 * pair showed (the differential run on main, 2 of 37 runs of one seed
 * under load).
 */
uint64_t bfsd_fs_vino(const struct bfsd_fs *fs, const struct bfsd_layer *l, const struct stat *st)
{
	if (bfsd_layer_is_storage(l))
		return st->st_ino | (1ull << 63);
	if (st->st_dev == fs->base_dev)
		return st->st_ino;
	/* A filesystem mounted inside the base: keep its numbers apart. */
	return (st->st_ino ^ (bfsd_hash(&st->st_dev, sizeof(st->st_dev)) << 40)) | (1ull << 62);
}

uint64_t bfsd_fs_salt(const struct bfsd_branch *b, uint64_t vino)
{
	return vino ^ ((b->id & 0x7fffffull) << 40);
}

int bfsd_fs_switch(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	if (b->dead)
		return -ENOENT;
	fs->current = b;
	return bfsd_store_save_fs(fs);
}

void bfsd_lock_ns(struct bfsd_fs *fs, struct bfsd_branch *b, bool excl)
{
	if (excl)
		pthread_rwlock_wrlock(&b->ns_lock);
	else
		pthread_rwlock_rdlock(&b->ns_lock);
	if (b != fs->main)
		pthread_rwlock_rdlock(&fs->lower_lock);
}

void bfsd_unlock_ns(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	if (b != fs->main)
		pthread_rwlock_unlock(&fs->lower_lock);
	pthread_rwlock_unlock(&b->ns_lock);
}

void bfsd_lock_op(struct bfsd_fs *fs, struct bfsd_branch *b, bool excl)
{
	pthread_rwlock_rdlock(&fs->tree_lock);
	bfsd_lock_ns(fs, b, excl);
}

void bfsd_unlock_op(struct bfsd_fs *fs, struct bfsd_branch *b)
{
	bfsd_unlock_ns(fs, b);
	pthread_rwlock_unlock(&fs->tree_lock);
}

/* ---- trash ---- */

/* Layer id, and what folds took out of it (its held directory). */
static int trash_now(struct bfsd_fs *fs, uint64_t id)
{
	char name[48], tmp[NAME_MAX + 1];

	bfsd_layer_held_name(id, name);
	bfsd_fs_tmpname(fs, tmp);
	renameat(fs->layers_fd, name, fs->trash_fd, tmp);
	snprintf(name, sizeof(name), "%llu", (unsigned long long)id);
	bfsd_fs_tmpname(fs, tmp);
	if (renameat(fs->layers_fd, name, fs->trash_fd, tmp) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

int bfsd_store_open_held(struct bfsd_fs *fs, uint64_t id)
{
	char name[48];
	int fd;

	bfsd_layer_held_name(id, name);
	if (mkdirat(fs->layers_fd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(fs->layers_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int bfsd_store_hand_held(struct bfsd_fs *fs, uint64_t id, uint64_t keeper)
{
	char name[48], tmp[NAME_MAX + 1];
	int fd, ret = 0;

	bfsd_layer_held_name(id, name);
	if (faccessat(fs->layers_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	fd = bfsd_store_open_held(fs, keeper);
	if (fd < 0)
		return fd;
	bfsd_fs_tmpname(fs, tmp);
	if (renameat(fs->layers_fd, name, fd, tmp) < 0 && errno != ENOENT)
		ret = -errno;
	close(fd);
	return ret;
}

int bfsd_store_hold_layer(struct bfsd_fs *fs, uint64_t id, uint64_t keeper)
{
	char name[48], tmp[NAME_MAX + 1];
	int fd, ret = bfsd_store_hand_held(fs, id, keeper);

	if (ret)
		return ret;
	fd = bfsd_store_open_held(fs, keeper);
	if (fd < 0)
		return fd;
	snprintf(name, sizeof(name), "%llu", (unsigned long long)id);
	bfsd_fs_tmpname(fs, tmp);
	if (renameat(fs->layers_fd, name, fd, tmp) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Hand layer id over to be moved later (reclaim_lock held).  Moving it is a
 * rename in layers/, whose lock a refill's mkdir holds, for a millisecond
 * on a filesystem that deleted a lot or while the reclaimer is preempted;
 * a commit or an abort does not wait for that before it replies.  A crash
 * before the move leaves a layer the log does not name, which the next
 * mount sweeps.
 */
static bool defer_trash(struct bfsd_fs *fs, uint64_t id)
{
	if (fs->ndoomed == fs->doomed_cap) {
		size_t cap = fs->doomed_cap ? fs->doomed_cap * 2 : 16;
		uint64_t *d = realloc(fs->doomed, cap * sizeof(*d));

		if (!d)
			return false;
		fs->doomed = d;
		fs->doomed_cap = cap;
	}
	fs->doomed[fs->ndoomed++] = id;
	fs->reclaim_pending = 1;
	pthread_cond_signal(&fs->reclaim_cond);
	return true;
}

int bfsd_store_trash_layer(struct bfsd_fs *fs, uint64_t id)
{
	bool deferred = false;
	int ret;

	if (id == UINT64_MAX)
		return 0;
	if (fs->reclaimer_running) {
		pthread_mutex_lock(&fs->reclaim_lock);
		deferred = !fs->reclaim_stop && defer_trash(fs, id);
		pthread_mutex_unlock(&fs->reclaim_lock);
	}
	if (deferred) {
		bfsd_fault_point(fs, "layer-handed-over");
		return 0;
	}
	ret = trash_now(fs, id);
	if (!ret && fs->reclaimer_running)
		bfsd_store_wake_reclaimer(fs);
	return ret;
}

/* Move the layers handed over by bfsd_store_trash_layer to the trash; how
 * many there were. */
static size_t trash_doomed(struct bfsd_fs *fs)
{
	uint64_t *ids;
	size_t n;

	pthread_mutex_lock(&fs->reclaim_lock);
	ids = fs->doomed;
	n = fs->ndoomed;
	fs->doomed = NULL;
	fs->ndoomed = fs->doomed_cap = 0;
	pthread_mutex_unlock(&fs->reclaim_lock);
	for (size_t i = 0; i < n; i++)
		trash_now(fs, ids[i]);
	free(ids);
	return n;
}

/*
 * Done at the priority of a request, where the reclaimer's is the lowest:
 * a preempted thread holding the lock of layers/ would stall whoever needs
 * it next.  The request has replied, so its client does not wait.
 */
void bfsd_store_tidy(struct bfsd_fs *fs)
{
	if (atomic_exchange(&fs->fold_wanted, false))
		bfsd_fold(fs);
	bfsd_layer_refill(fs);
	if (trash_doomed(fs) && fs->reclaimer_running)
		bfsd_store_wake_reclaimer(fs);
}

/*
 * Remove the trash tree name one entry of its root at a time: a crash part
 * of the way leaves a smaller tree in the trash, which the next mount's
 * reclaimer removes (the trash is never named by the log).
 */
static void reclaim_tree(struct bfsd_fs *fs, const char *name)
{
	int fd = openat(fs->trash_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d = bfsd_fdopendir(fd);

	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		bfsd_rm_rf_at(dirfd(d), de->d_name);
		bfsd_fault_point(fs, "reclaim-step");
	}
	if (d)
		closedir(d);
	bfsd_rm_rf_at(fs->trash_fd, name);
}

void bfsd_store_reclaim(struct bfsd_fs *fs)
{
	int fd = openat(fs->trash_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d = bfsd_fdopendir(fd);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		reclaim_tree(fs, de->d_name);
	}
	closedir(d);
}

/*
 * Layers handed over are moved to the trash, and the trash removed, this
 * long after the wake-up that found them: removing a big tree holds the
 * storage filesystem's journal, and moving one the lock of layers/; done
 * at once, either would slow the abort that made it, still writing its log
 * record and replying, and the requests that follow it.
 */
#define TRASH_DELAY_NS (20 * 1000 * 1000L)

static void *reclaimer(void *arg)
{
	struct bfsd_fs *fs = arg;
	struct sched_param sp = { 0 };
	struct timespec due = { 0 };
	bool trash = false;

	/* Deleting aborted trees is background work: it yields the CPU to
	 * every request (abort returns before any of it happens). */
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);

	pthread_mutex_lock(&fs->reclaim_lock);
	while (!fs->reclaim_stop) {
		if (fs->reclaim_pending) {
			fs->reclaim_pending = 0;
			pthread_mutex_unlock(&fs->reclaim_lock);
			bfsd_cache_free_garbage(fs);
			bfsd_layer_refill(fs);
			if (!trash) {
				clock_gettime(CLOCK_MONOTONIC, &due);
				due.tv_nsec += TRASH_DELAY_NS;
				due.tv_sec += due.tv_nsec / 1000000000L;
				due.tv_nsec %= 1000000000L;
				trash = true;
			}
			pthread_mutex_lock(&fs->reclaim_lock);
		} else if (!trash) {
			pthread_cond_wait(&fs->reclaim_cond, &fs->reclaim_lock);
		} else if (pthread_cond_timedwait(&fs->reclaim_cond, &fs->reclaim_lock, &due) ==
			   ETIMEDOUT) {
			trash = false;
			pthread_mutex_unlock(&fs->reclaim_lock);
			trash_doomed(fs);
			bfsd_store_reclaim(fs);
			pthread_mutex_lock(&fs->reclaim_lock);
		}
	}
	pthread_mutex_unlock(&fs->reclaim_lock);
	return NULL;
}

void bfsd_store_wake_reclaimer(struct bfsd_fs *fs)
{
	pthread_mutex_lock(&fs->reclaim_lock);
	fs->reclaim_pending = 1;
	pthread_cond_signal(&fs->reclaim_cond);
	pthread_mutex_unlock(&fs->reclaim_lock);
}

int bfsd_store_start_reclaimer(struct bfsd_fs *fs)
{
	int ret = pthread_create(&fs->reclaimer, NULL, reclaimer, fs);

	if (ret)
		return -ret;
	fs->reclaimer_running = true;
	bfsd_store_wake_reclaimer(fs); /* whatever an earlier run left */
	return 0;
}

void bfsd_store_stop_reclaimer(struct bfsd_fs *fs)
{
	if (!fs->reclaimer_running)
		return;
	bfsd_thread_stop(&fs->reclaim_lock, &fs->reclaim_cond, &fs->reclaim_stop, fs->reclaimer);
	fs->reclaimer_running = false;
	trash_doomed(fs); /* what the thread had no time for */
}
