/* SPDX-License-Identifier: Apache-2.0 */
/*
 * branchfs control ABI: ioctl numbers and sizes, nothing else.
 *
 * Issue these on a file descriptor of a control file: <mnt>/.branchfs_ctl
 * (acts on the mount's current branch) or <mnt>/@NAME/.branchfs_ctl (acts on
 * branch NAME).  The numbers are a compatibility contract with BranchFS
 * clients; see docs/ioctl.md for errors and semantics.
 */
#ifndef BRANCHFS_IOCTL_H
#define BRANCHFS_IOCTL_H

/* Size of the buffer FS_IOC_BRANCH_CREATE fills with the new branch name. */
#define BRANCHFS_NAME_BUF 128

/* Name of the control file at the mount root and at each @NAME root. */
#define BRANCHFS_CTL_NAME ".branchfs_ctl"

/* _IOR('b', 0, char[128]): create a child; its name comes back NUL-terminated. */
#define FS_IOC_BRANCH_CREATE 0x80806200u
/* _IO('b', 1): commit the branch into its parent. */
#define FS_IOC_BRANCH_COMMIT 0x00006201u
/* _IO('b', 2): abort (discard) the branch. */
#define FS_IOC_BRANCH_ABORT 0x00006202u

/*
 * Extensions of this project, numbered from ('b', 16) upward.
 *
 * _IOR('b', 16, struct branchfs_ioc_info): describe the mount.
 */
#define FS_IOC_BRANCH_INFO 0x90006210u
/* _IOW('b', 17, unsigned int): 1 = keep branches at the next unmount, 0 = discard. */
#define FS_IOC_BRANCH_SET_KEEP 0x40046211u

#define BRANCHFS_INFO_VERSION 1

struct branchfs_ioc_info {
	unsigned int version;	  /* BRANCHFS_INFO_VERSION */
	int daemon_pid;		  /* pid of the daemon serving the mount */
	unsigned int keep;	  /* 1 when the next unmount keeps branches */
	unsigned int flags;	  /* reserved, 0 */
	char branch[256];	  /* branch the control file acts on, NUL-terminated */
	char storage[4096 - 272]; /* storage directory, NUL-terminated */
};

#endif
