/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel cache invalidation.
 *
 * Entries and attributes are cached by the kernel for long timeouts and file
 * pages are kept across opens; that is only correct because every change the
 * kernel cannot see for itself is invalidated here: a commit into a branch,
 * an abort, a switch of the mount root, and a change made through one of
 * the two views of a branch (the mount root and @NAME) that the other view
 * has cached.  Requests collect what to invalidate while they hold locks and
 * send it afterwards (bfsd_inval_send) with no lock held.
 */
#include "ll.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct bfsd_inval_item *item_new(struct bfsd_inval *iv)
{
	if (iv->n == iv->cap) {
		size_t cap = iv->cap ? iv->cap * 2 : 16;
		struct bfsd_inval_item *it = realloc(iv->it, cap * sizeof(*it));

		if (!it)
			return NULL;
		iv->it = it;
		iv->cap = cap;
	}
	memset(&iv->it[iv->n], 0, sizeof(iv->it[0]));
	return &iv->it[iv->n++];
}

void bfsd_inval_entry(struct bfsd_inval *iv, fuse_ino_t parent, const char *name)
{
	struct bfsd_inval_item *it = item_new(iv);

	if (!it)
		return;
	it->parent = parent;
	it->name = strdup(name);
	if (!it->name)
		iv->n--;
}

void bfsd_inval_expire(struct bfsd_inval *iv, fuse_ino_t parent, const char *name)
{
	bfsd_inval_entry(iv, parent, name);
	if (iv->n && iv->it[iv->n - 1].name)
		iv->it[iv->n - 1].expire = true;
}

void bfsd_inval_inode(struct bfsd_inval *iv, fuse_ino_t ino, off_t off, off_t len)
{
	struct bfsd_inval_item *it = item_new(iv);

	if (!it)
		return;
	it->parent = ino;
	it->off = off;
	it->len = len;
}

/*
 * Drop the entry name below node n (or n's attributes and pages, name
 * NULL), n found by a walk: the item takes the caller's reference to n and
 * holds it until it is sent (no item: it is put).  A node the kernel
 * forgot meanwhile would be freed, its address (its id) given to the next
 * node made, and the drop would reach that one: the kernel refused it when
 * that was a file ("fuse: writing device: Not a directory", a few times
 * per run of the random calls through both views), or dropped an
 * unrelated entry.
 */
static void node_item(struct bfsd_mount *m, struct bfsd_inval *iv, struct bfsd_node *n,
		      const char *name)
{
	size_t had = iv->n;

	if (name)
		bfsd_inval_entry(iv, bfsd_node_id(m, n), name);
	else
		bfsd_inval_inode(iv, bfsd_node_id(m, n), 0, 0);
	if (iv->n > had)
		iv->it[iv->n - 1].node = n;
	else
		bfsd_node_put(m, n);
}

/* One view's kernel copies of (b, path), but for the inode of node self. */
static void inval_view(struct bfsd_mount *m, struct bfsd_inval *iv, struct bfsd_branch *b,
		       bool via_root, const char *path, bool entry, const struct bfsd_node *self)
{
	char parent[PATH_MAX];
	const char *name;
	struct bfsd_node *n = bfsd_node_walk(m, b, via_root, path);

	if (n && n != self)
		node_item(m, iv, n, NULL);
	else
		bfsd_node_put(m, n);
	if (!entry || !path[0])
		return;
	name = bfsd_path_split(path, parent);
	n = bfsd_node_walk(m, b, via_root, parent);
	/* Not below what is now a file: the kernel would refuse (ENOTDIR). */
	if (n && (n->kind != BFSD_NODE_OBJECT || S_ISDIR(n->type))) {
		bfsd_node_hold(m, n); /* one reference per item */
		node_item(m, iv, n, name);
		node_item(m, iv, n, NULL); /* its cached listing, too */
	} else {
		bfsd_node_put(m, n);
	}
}

void bfsd_inval_path(struct bfsd_mount *m, struct bfsd_inval *iv, struct bfsd_branch *b,
		     const char *path, bool entry)
{
	inval_view(m, iv, b, true, path, entry, NULL);
	inval_view(m, iv, b, false, path, entry, NULL);
}

void bfsd_inval_twin(struct bfsd_mount *m, struct bfsd_inval *iv, struct bfsd_node *n,
		     struct bfsd_branch *b, const char *path, bool entry)
{
	bool via_root = n->kind == BFSD_NODE_ROOT || (n->kind != BFSD_NODE_BROOT && n->via_root);

	/* A non-directory is one inode in both views (bfsd_node_lookup): what
	 * the kernel keeps of it is its own; another node of its path, in
	 * either view, is a twin. */
	if (n->kind == BFSD_NODE_OBJECT && !S_ISDIR(n->type)) {
		inval_view(m, iv, b, true, path, entry, n);
		inval_view(m, iv, b, false, path, entry, n);
		return;
	}
	inval_view(m, iv, b, !via_root, path, entry, NULL);
}

static void root_child(struct bfsd_node *n, const char *name, void *arg)
{
	(void)n;
	bfsd_inval_entry(arg, FUSE_ROOT_ID, name);
}

void bfsd_inval_root(struct bfsd_mount *m, struct bfsd_inval *iv)
{
	bfsd_node_root_children(m, root_child, iv);
	bfsd_inval_inode(iv, FUSE_ROOT_ID, 0, 0);
}

/*
 * A copy-up changed what stat says of an object (a directory's copy has its
 * own ctime): the kernel must ask again before the request is answered, or
 * a stat right after it still sees the old values.  Attributes only, which
 * takes no inode lock in the kernel, so it is sent at once.
 */
void bfsd_inval_copyup(void *ctx, struct bfsd_branch *b, const char *path, const struct stat *copy)
{
	struct bfsd_mount *m = ctx;

	for (int via_root = 0; via_root < 2; via_root++) {
		struct bfsd_node *n = bfsd_node_walk(m, b, via_root, path);

		if (!n)
			continue;
		if (m->se)
			fuse_lowlevel_notify_inval_inode(m->se, bfsd_node_id(m, n), -1, 0);
		/* A multi-linked file is found by its copy from now on. */
		if (copy && S_ISREG(copy->st_mode) && copy->st_nlink > 1)
			bfsd_node_set_ident(m, n, copy->st_dev, copy->st_ino);
		bfsd_node_put(m, n);
	}
}

struct rekey {
	struct bfsd_mount *m;
	dev_t dev;
	ino_t ino;
	const struct stat *copy;
};

static void rekey_branch(struct bfsd_branch *b, void *arg)
{
	const struct rekey *k = arg;

	bfsd_node_rekey(k->m, b, k->dev, k->ino, k->copy->st_dev, k->copy->st_ino);
}

/*
 * Main is about to change a multi-linked file that branches show, which
 * now show preservation's copy instead.  A branch's node looked up before
 * is still keyed by the base file: another of its names looked up now
 * would find no node, take a second kernel inode, and keep that inode's
 * attributes and pages when the branch then writes through the first.
 */
void bfsd_inval_preserved(void *ctx, struct bfsd_fs *fs, dev_t dev, ino_t ino,
			  const struct stat *copy)
{
	struct rekey k = { .m = ctx, .dev = dev, .ino = ino, .copy = copy };

	bfsd_branch_each(fs, rekey_branch, &k);
}

static void send_item(struct bfsd_mount *m, const struct bfsd_inval_item *it)
{
	int ret;

	if (!m->se)
		return;
	if (it->name && it->expire && m->expire_ok)
		ret = fuse_lowlevel_notify_expire_entry(m->se, it->parent, it->name,
							strlen(it->name), FUSE_LL_EXPIRE_ONLY);
	else if (it->name)
		ret = fuse_lowlevel_notify_inval_entry(m->se, it->parent, it->name,
						       strlen(it->name));
	else
		ret = fuse_lowlevel_notify_inval_inode(m->se, it->parent, it->off, it->len);
	if (ret && ret != -ENOENT)
		bfsd_dbg("cache invalidation failed: %s", bfsd_strerror(-ret));
}

void bfsd_inval_hold(struct bfsd_mount *m, struct bfsd_inval *iv, fuse_ino_t a, fuse_ino_t b)
{
	const fuse_ino_t want[2] = { a, b };

	pthread_mutex_lock(&m->held_lock);
	for (int k = 0, i = 0; k < 2; k++) {
		while (i < BFSD_HELD_MAX && m->held[i])
			i++;
		if (!want[k])
			continue;
		if (i == BFSD_HELD_MAX)
			iv->unheld = true;
		else
			m->held[i] = iv->held[k] = want[k];
	}
	pthread_mutex_unlock(&m->held_lock);
}

static void release(struct bfsd_mount *m, struct bfsd_inval *iv)
{
	if (!iv->held[0] && !iv->held[1])
		return; /* none, or released already */
	pthread_mutex_lock(&m->held_lock);
	for (int k = 0; k < 2; k++) {
		for (int i = 0; iv->held[k] && i < BFSD_HELD_MAX; i++) {
			if (m->held[i] == iv->held[k]) {
				m->held[i] = 0;
				break;
			}
		}
		iv->held[k] = 0;
	}
	pthread_mutex_unlock(&m->held_lock);
}

static bool held_locked(const struct bfsd_mount *m, fuse_ino_t dir)
{
	for (int i = 0; i < BFSD_HELD_MAX; i++)
		if (m->held[i] == dir)
			return true;
	return false;
}

/*
 * Entries dropped before a reply go through one thread, and the request
 * waits for them NOTIFY_WAIT_MS at most.  Dropping an entry locks its
 * directory in the kernel, and the kernel may hold that directory for a
 * call that waits for a lock the request's own call holds: a file is one
 * inode through both views, so an unlink through one view holds the file
 * while a rename of it through the other holds that view's directory and
 * waits for the file.  Past the wait the reply goes, the kernel lets its
 * locks go, and the drop lands just after.
 */
#define NOTIFY_WAIT_MS 50

struct notify_job {
	struct notify_job *next;
	size_t n;
	struct bfsd_inval_item *it; /* entries; their names are the job's */
	bool done;
	int refs; /* the request waiting, the notifier */
};

static void job_put_locked(struct notify_job *j)
{
	if (--j->refs)
		return;
	for (size_t i = 0; i < j->n; i++)
		free(j->it[i].name);
	free(j->it);
	free(j);
}

static void *notifier(void *arg)
{
	struct bfsd_mount *m = arg;

	pthread_mutex_lock(&m->notify_lock);
	for (;;) {
		struct notify_job *j = m->notify_head;

		if (!j && m->notify_stop)
			break;
		if (!j) {
			pthread_cond_wait(&m->notify_work, &m->notify_lock);
			continue;
		}
		m->notify_head = j->next;
		if (!m->notify_head)
			m->notify_tail = &m->notify_head;
		pthread_mutex_unlock(&m->notify_lock);
		for (size_t i = 0; i < j->n; i++)
			send_item(m, &j->it[i]);
		pthread_mutex_lock(&m->notify_lock);
		/* Under the lock: bfsd_inval_stop may leave this thread to the
		 * process's end, and the nodes are freed then. */
		for (size_t i = 0; i < j->n && !m->notify_left; i++)
			bfsd_node_put(m, j->it[i].node);
		j->done = true;
		pthread_cond_broadcast(&m->notify_done);
		job_put_locked(j);
	}
	pthread_mutex_unlock(&m->notify_lock);
	return NULL;
}

static bool notifier_up(struct bfsd_mount *m)
{
	bool up;

	pthread_mutex_lock(&m->notify_lock);
	if (!m->notifier_up && !m->notify_stop)
		m->notifier_up = !pthread_create(&m->notifier, NULL, notifier, m);
	up = m->notifier_up && !m->notify_stop;
	pthread_mutex_unlock(&m->notify_lock);
	return up;
}

/* Queue j and wait until it is sent, or NOTIFY_WAIT_MS. */
static void notify_wait(struct bfsd_mount *m, struct notify_job *j)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += NOTIFY_WAIT_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&m->notify_lock);
	j->refs = 2;
	*m->notify_tail = j;
	m->notify_tail = &j->next;
	pthread_cond_signal(&m->notify_work);
	while (!j->done && !pthread_cond_timedwait(&m->notify_done, &m->notify_lock, &until))
		;
	job_put_locked(j);
	pthread_mutex_unlock(&m->notify_lock);
}

void bfsd_inval_now(struct bfsd_mount *m, struct bfsd_inval *iv)
{
	struct notify_job *j = NULL;
	int up = -1; /* whether the notifier runs: asked at the first entry */

	for (size_t i = 0; m->se && i < iv->n; i++) {
		struct bfsd_inval_item *it = &iv->it[i];
		bool held;

		if (!it->name) {
			fuse_lowlevel_notify_inval_inode(m->se, it->parent, -1, 0);
			continue;
		}
		pthread_mutex_lock(&m->held_lock);
		held = iv->unheld || held_locked(m, it->parent);
		pthread_mutex_unlock(&m->held_lock);
		if (!held && up < 0)
			up = notifier_up(m);
		if (held || !up)
			continue;
		if (!j) {
			j = calloc(1, sizeof(*j));
			if (j && !(j->it = malloc(iv->n * sizeof(*j->it))))
				free(j), j = NULL;
			if (!j)
				break;
		}
		/* The job takes the name and the node; bfsd_inval_send skips
		 * the item. */
		j->it[j->n++] = *it;
		it->name = NULL;
		it->node = NULL;
		it->sent = true;
	}
	if (j)
		notify_wait(m, j);
	/* The reply is next: nothing here waits any more, and the kernel lets
	 * the directories go as soon as it arrives. */
	release(m, iv);
}

void bfsd_inval_stop(struct bfsd_mount *m)
{
	struct timespec until;
	bool up;

	pthread_mutex_lock(&m->notify_lock);
	m->notify_stop = true;
	up = m->notifier_up;
	pthread_cond_signal(&m->notify_work);
	pthread_mutex_unlock(&m->notify_lock);
	if (!up)
		return;
	/* A drop can wait for a call the kernel ends only with the session:
	 * the thread is then left to end with the process. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	if (pthread_timedjoin_np(m->notifier, NULL, &until)) {
		pthread_mutex_lock(&m->notify_lock);
		m->notify_left = true;
		pthread_mutex_unlock(&m->notify_lock);
		pthread_detach(m->notifier);
	}
}

void bfsd_inval_send(struct bfsd_mount *m, struct bfsd_inval *iv)
{
	release(m, iv); /* when bfsd_inval_now did not run */
	for (size_t i = 0; i < iv->n; i++) {
		if (!iv->it[i].sent)
			send_item(m, &iv->it[i]);
		free(iv->it[i].name);
		bfsd_node_put(m, iv->it[i].node);
	}
	free(iv->it);
	iv->it = NULL;
	iv->n = iv->cap = 0;
}

void bfsd_inval_reply_err(fuse_req_t req, struct bfsd_mount *m, struct bfsd_inval *iv, int err)
{
	bfsd_inval_now(m, iv);
	fuse_reply_err(req, err);
	bfsd_inval_send(m, iv);
}
