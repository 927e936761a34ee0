// SPDX-License-Identifier: GPL-2.0-only
/*
 * A vfio-pci variant driver for QEMU's edu device (1234:11e8) with
 * migration v2 (STOP_COPY; PRE_COPY from Linux 6.2), written against Linux
 * 6.1's vfio_pci_core and ported to 6.12's (LINUX_VERSION_CODE guards).
 *
 * The device's state is its BAR0 registers: the card liveness value, the
 * interrupt-on-finish bit, the interrupt status and the DMA source,
 * destination and count. STOP waits for a running factorial or DMA to end;
 * STOP -> STOP_COPY snapshots the registers into a save file; a resume file
 * takes the same bytes and RESUMING -> STOP writes them back. Where the
 * kernel has PRE_COPY, RUNNING -> PRE_COPY opens the save file with a first
 * snapshot taken while running and PRE_COPY -> STOP_COPY appends the final
 * one to the same stream; a resume applies the last record it was given.
 *
 * Save and resume files are anon-inode stream files: the VFS passes no
 * position for them, so read and write use the file's own position and
 * refuse positioned I/O.
 *
 * A trap requirement: from VFIO_DEVICE_FEATURE_DMA_LOGGING_START (or the
 * entry into PRE_COPY, whichever comes first) until DMA_LOGGING_STOP, the
 * device's return to RUNNING, a reset or the close of the device, guest accesses to edu's register page (BAR0
 * bytes 0x0-0xfff) must reach the driver through the device fd (pread and
 * pwrite), where each one is logged. The module parameter "mode" chooses
 * how the user learns of it:
 *
 *   async   the BAR0 region info gains a sparse-mmap capability that leaves
 *           the page out, and an eventfd bound to IRQ index 5 (one past
 *           vfio-pci's) is signalled; the user's mappings are left alone,
 *           so the user must unmap the page itself. At the end the layout
 *           is restored and the eventfd signalled again.
 *   revoke  the user's BAR0 mappings are zapped before DMA_LOGGING_START
 *           returns; faults on them get SIGBUS until the requirement ends.
 *
 * The driver's account (debugfs edu_vfio_pci/account) is one JSON object a
 * line, stamped with ktime_get_ns() (CLOCK_MONOTONIC), in the form
 * vfiotrace import jsonl reads; its first line is the clock pair
 * (CLOCK_MONOTONIC, CLOCK_REALTIME) read at module load. Dirty tracking is minimal: logging starts
 * and stops, and reports no dirty pages (edu's DMA is not tracked).
 */

#include <linux/anon_inodes.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vfio.h>
#include <linux/version.h>
#include <linux/vfio_pci_core.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

/*
 * What differs between the kernels this is built for (Debian's 6.1 and
 * 6.12). PRE_COPY and the iommufd ops came in 6.2, the migration data size
 * op in 6.3; from 6.8 eventfd_signal() takes no count; from 6.10
 * vfio_pci_core maps BAR pages fault by fault and zaps them through the
 * device inode's address space (no VMA list, no vm_ops open/close); 6.12
 * dropped no_llseek (a NULL llseek on a stream file now means -ESPIPE).
 */
#define EDU_HAS_PRE_COPY	(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0))
#define EDU_HAS_IOMMUFD_OPS	(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0))
#define EDU_HAS_DETACH_IOAS	(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0))
#define EDU_HAS_DATA_SIZE	(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0))
#define EDU_FAULT_MAPS_PAGES	(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0))

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define edu_eventfd_signal(ctx)	eventfd_signal(ctx)
#else
#define edu_eventfd_signal(ctx)	eventfd_signal(ctx, 1)
#endif

/* edu's BAR0 registers (QEMU docs/specs/edu.txt). */
#define EDU_IDENT		0x00
#define EDU_LIVENESS		0x04
#define EDU_STATUS		0x20
#define EDU_STATUS_COMPUTING	0x01
#define EDU_STATUS_IRQFACT	0x80
#define EDU_IRQ_STATUS		0x24
#define EDU_IRQ_RAISE		0x60
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_CNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_DMA_CMD_RUN		0x01

#define EDU_MIG_MAGIC		0x4d554445	/* "EDUM" */
#define EDU_MIG_VERSION		1

/* The migration stream: one record, little-endian. */
struct edu_mig_state {
	__le32 magic;
	__le32 version;
	__le32 ident;
	__le32 liveness;
	__le32 status;
	__le32 irq_status;
	__le64 dma_src;
	__le64 dma_dst;
	__le64 dma_cnt;
};

/*
 * A save or resume stream holds whole records: one from STOP_COPY, or one
 * from PRE_COPY and one from STOP_COPY; a resume applies the last.
 */
#define EDU_MIG_MAX_RECORDS	4

/* A save or resume file: the records and how much of them is there. */
struct edu_mig_file {
	struct file *filp;
	struct mutex lock;	/* serialises read/write against release */
	bool disabled;
	bool precopy;		/* PRE_COPY: the end is only for now (ENOMSG) */
	size_t total;
	struct edu_mig_state data[EDU_MIG_MAX_RECORDS];
};

/*
 * The trap requirement covers edu's registers: BAR0's first page. The
 * re-evaluate interrupt (async mode) is the first index past vfio-pci's.
 */
#define EDU_TRAP_OFFSET		0
#define EDU_TRAP_LENGTH		0x1000
#define EDU_REEVAL_IRQ_INDEX	VFIO_PCI_NUM_IRQS
#define EDU_SOURCE		"edu_vfio_pci"

enum edu_mode {
	EDU_MODE_ASYNC,
	EDU_MODE_REVOKE,
};

static char *mode = "async";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "async (sparse mmap, eventfd) or revoke (zap)");

static unsigned int account_kb = 4096;
module_param(account_kb, uint, 0444);
MODULE_PARM_DESC(account_kb, "size of the driver's account in KiB");

static bool p2p;
module_param(p2p, bool, 0444);
MODULE_PARM_DESC(p2p, "offer the P2P states (RUNNING_P2P, PRE_COPY_P2P)");

static enum edu_mode edu_mode;

/* A user mapping of BAR0, tracked in revoke mode (before 6.10). */
struct edu_vma {
	struct list_head next;
	struct vm_area_struct *vma;
	bool zapped;
};

struct edu_vfio_pci_core_device {
	struct vfio_pci_core_device core_device;
	struct mutex state_mutex;	/* migration state, logging, trap */
	enum vfio_device_mig_state mig_state;
	void __iomem *bar0;
	struct edu_mig_file *saving;
	struct edu_mig_file *resuming;
	bool logging;			/* DMA logging started */
	/* A reset seen by reset_done, applied under state_mutex. */
	spinlock_t reset_lock;
	bool reset_pending;
	struct work_struct reset_work;
	/* The trap requirement; changed under state_mutex and trap_lock. */
	struct mutex trap_lock;
	bool trap_required;
	bool trap_pending;		/* revoke: zapping, requirement next */
	wait_queue_head_t trap_wq;
	/* Revoke mode: faults on the user's BAR0 mappings get SIGBUS. */
	struct rw_semaphore fault_lock;
	bool mmaps_revoked;
	struct mutex vmas_lock;
	struct list_head vmas;
	/* Async mode: the re-evaluate eventfd. */
	struct mutex reeval_lock;
	struct eventfd_ctx *reeval;
};

static struct edu_vfio_pci_core_device *
edu_vdev(struct vfio_device *core_vdev)
{
	return container_of(core_vdev, struct edu_vfio_pci_core_device,
			    core_device.vdev);
}

/*
 * The driver's account: JSON Lines in one buffer, read through debugfs
 * (edu_vfio_pci/account; edu_vfio_pci/stats counts the lines, the lines
 * that did not fit and the trapped accesses).
 */
static DEFINE_MUTEX(edu_acct_lock);
static char *edu_acct_buf;
static size_t edu_acct_size, edu_acct_len;
static u64 edu_acct_lines, edu_acct_dropped, edu_acct_accesses;
static struct dentry *edu_debugfs;

static __printf(1, 2) void edu_account(const char *fmt, ...)
{
	char line[320];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vscnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	mutex_lock(&edu_acct_lock);
	if (edu_acct_len + n > edu_acct_size) {
		edu_acct_dropped++;
	} else {
		memcpy(edu_acct_buf + edu_acct_len, line, n);
		edu_acct_len += n;
		edu_acct_lines++;
	}
	mutex_unlock(&edu_acct_lock);
}

static const char *edu_name(struct edu_vfio_pci_core_device *edev)
{
	return pci_name(edev->core_device.pdev);
}

/* trap.on, trap.off, mmap.revoke, mmap.restore: a BAR0 range, now. */
static void edu_account_range(struct edu_vfio_pci_core_device *edev,
			      const char *kind, u64 offset, u64 length,
			      const char *fields)
{
	edu_account("{\"t\":%llu,\"kind\":\"%s\",\"device\":\"%s\",\"region\":0,\"offset\":%llu,\"length\":%llu,\"source\":\"" EDU_SOURCE "\"%s}",
		    ktime_get_ns(), kind, edu_name(edev), offset, length,
		    fields);
}

static ssize_t edu_account_read(struct file *filp, char __user *buf,
				size_t count, loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&edu_acct_lock);
	ret = simple_read_from_buffer(buf, count, ppos, edu_acct_buf,
				      edu_acct_len);
	mutex_unlock(&edu_acct_lock);
	return ret;
}

static const struct file_operations edu_account_fops = {
	.owner = THIS_MODULE,
	.read = edu_account_read,
	.llseek = default_llseek,
};

static int edu_stats_show(struct seq_file *m, void *v)
{
	mutex_lock(&edu_acct_lock);
	seq_printf(m, "lines %llu\ndropped %llu\ntrap_accesses %llu\nbytes %zu\n",
		   edu_acct_lines, edu_acct_dropped, edu_acct_accesses,
		   edu_acct_len);
	mutex_unlock(&edu_acct_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(edu_stats);

/*
 * Register access from the driver: only while the user has memory decode
 * enabled, under the lock vfio_pci_core takes to change it.
 */
static int edu_regs_begin(struct edu_vfio_pci_core_device *edev)
{
	struct pci_dev *pdev = edev->core_device.pdev;
	u16 cmd;

	down_read(&edev->core_device.memory_lock);
	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	if (!edev->bar0 || !(cmd & PCI_COMMAND_MEMORY)) {
		up_read(&edev->core_device.memory_lock);
		return -EIO;
	}
	return 0;
}

static void edu_regs_end(struct edu_vfio_pci_core_device *edev)
{
	up_read(&edev->core_device.memory_lock);
}

/* Waits (up to 100 ms) for a factorial or a DMA transfer to finish. */
static int edu_quiesce(struct edu_vfio_pci_core_device *edev)
{
	int i, ret;

	ret = edu_regs_begin(edev);
	if (ret)
		return ret;
	for (i = 0; i < 100; i++) {
		u32 status = ioread32(edev->bar0 + EDU_STATUS);
		u32 dma = ioread32(edev->bar0 + EDU_DMA_CMD);

		if (!(status & EDU_STATUS_COMPUTING) &&
		    !(dma & EDU_DMA_CMD_RUN))
			break;
		usleep_range(1000, 2000);
	}
	edu_regs_end(edev);
	return i < 100 ? 0 : -EBUSY;
}

/*
 * edu's 64-bit DMA registers take 8-byte accesses only: a 4-byte write at
 * 0x80 clears the upper half and one at 0x84 is ignored. Hence readq and
 * writeq (x86-64, where edu lives), never a split lo/hi pair.
 */
static int edu_save_regs(struct edu_vfio_pci_core_device *edev,
			 struct edu_mig_state *s)
{
	void __iomem *bar = edev->bar0;
	int ret;

	ret = edu_regs_begin(edev);
	if (ret)
		return ret;
	s->magic = cpu_to_le32(EDU_MIG_MAGIC);
	s->version = cpu_to_le32(EDU_MIG_VERSION);
	s->ident = cpu_to_le32(ioread32(bar + EDU_IDENT));
	/* The liveness register reads back the complement of what was set. */
	s->liveness = cpu_to_le32(~ioread32(bar + EDU_LIVENESS));
	s->status = cpu_to_le32(ioread32(bar + EDU_STATUS) &
				EDU_STATUS_IRQFACT);
	s->irq_status = cpu_to_le32(ioread32(bar + EDU_IRQ_STATUS));
	s->dma_src = cpu_to_le64(readq(bar + EDU_DMA_SRC));
	s->dma_dst = cpu_to_le64(readq(bar + EDU_DMA_DST));
	s->dma_cnt = cpu_to_le64(readq(bar + EDU_DMA_CNT));
	edu_regs_end(edev);
	return 0;
}

static int edu_load_regs(struct edu_vfio_pci_core_device *edev,
			 const struct edu_mig_state *s)
{
	void __iomem *bar = edev->bar0;
	u32 irq_status;
	int ret;

	ret = edu_regs_begin(edev);
	if (ret)
		return ret;
	if (le32_to_cpu(s->ident) != ioread32(bar + EDU_IDENT)) {
		edu_regs_end(edev);
		return -EINVAL;
	}
	iowrite32(le32_to_cpu(s->liveness), bar + EDU_LIVENESS);
	iowrite32(le32_to_cpu(s->status) & EDU_STATUS_IRQFACT,
		  bar + EDU_STATUS);
	writeq(le64_to_cpu(s->dma_src), bar + EDU_DMA_SRC);
	writeq(le64_to_cpu(s->dma_dst), bar + EDU_DMA_DST);
	writeq(le64_to_cpu(s->dma_cnt), bar + EDU_DMA_CNT);
	/* A pending interrupt stays pending: raise the same bits again. */
	irq_status = le32_to_cpu(s->irq_status);
	if (irq_status)
		iowrite32(irq_status, bar + EDU_IRQ_RAISE);
	edu_regs_end(edev);
	return 0;
}

static void edu_disable_file(struct edu_mig_file *migf)
{
	mutex_lock(&migf->lock);
	migf->disabled = true;
	migf->total = 0;
	migf->filp->f_pos = 0;
	mutex_unlock(&migf->lock);
}

static int edu_release_file(struct inode *inode, struct file *filp)
{
	struct edu_mig_file *migf = filp->private_data;

	edu_disable_file(migf);
	mutex_destroy(&migf->lock);
	kfree(migf);
	return 0;
}

static ssize_t edu_save_read(struct file *filp, char __user *buf, size_t len,
			     loff_t *pos)
{
	struct edu_mig_file *migf = filp->private_data;
	ssize_t done;

	/* A stream file: the VFS passes no position, so use our own. */
	if (pos)
		return -ESPIPE;
	pos = &filp->f_pos;

	mutex_lock(&migf->lock);
	if (migf->disabled) {
		done = -ENODEV;
		goto out;
	}
	if (*pos >= migf->total) {
		/* PRE_COPY's end of stream is only for now. */
		done = migf->precopy ? -ENOMSG : 0;
		goto out;
	}
	len = min_t(size_t, len, migf->total - *pos);
	if (copy_to_user(buf, (u8 *)migf->data + *pos, len)) {
		done = -EFAULT;
		goto out;
	}
	*pos += len;
	done = len;
out:
	mutex_unlock(&migf->lock);
	return done;
}

static ssize_t edu_resume_write(struct file *filp, const char __user *buf,
				size_t len, loff_t *pos)
{
	struct edu_mig_file *migf = filp->private_data;
	ssize_t done;

	if (pos)
		return -ESPIPE;
	pos = &filp->f_pos;

	mutex_lock(&migf->lock);
	if (migf->disabled) {
		done = -ENODEV;
		goto out;
	}
	if (*pos < 0 || *pos + len > sizeof(migf->data)) {
		done = -ENOSPC;
		goto out;
	}
	if (copy_from_user((u8 *)migf->data + *pos, buf, len)) {
		done = -EFAULT;
		goto out;
	}
	*pos += len;
	migf->total = max_t(size_t, migf->total, *pos);
	done = len;
out:
	mutex_unlock(&migf->lock);
	return done;
}

#if EDU_HAS_PRE_COPY
/*
 * VFIO_MIG_GET_PRECOPY_INFO on the save file, in PRE_COPY only: what is
 * left of the first record. edu's registers are not tracked while running,
 * so nothing is ever reported dirty; STOP_COPY takes them again.
 */
static long edu_save_ioctl(struct file *filp, unsigned int cmd,
			   unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	struct edu_mig_file *migf = filp->private_data;
	struct vfio_precopy_info info;
	long ret = 0;

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	mutex_lock(&migf->lock);
	if (migf->disabled) {
		ret = -ENODEV;
	} else if (!migf->precopy) {
		ret = -EINVAL;
	} else {
		info.initial_bytes = migf->total - min_t(u64, migf->total,
							 filp->f_pos);
		info.dirty_bytes = 0;
	}
	mutex_unlock(&migf->lock);
	if (ret)
		return ret;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}
#endif

static const struct file_operations edu_save_fops = {
	.owner = THIS_MODULE,
	.read = edu_save_read,
#if EDU_HAS_PRE_COPY
	.unlocked_ioctl = edu_save_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
#endif
	.release = edu_release_file,
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
	.llseek = no_llseek,
#endif
};

static const struct file_operations edu_resume_fops = {
	.owner = THIS_MODULE,
	.write = edu_resume_write,
	.release = edu_release_file,
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
	.llseek = no_llseek,
#endif
};

static struct edu_mig_file *edu_new_file(const struct file_operations *fops,
					 int flags)
{
	struct edu_mig_file *migf;

	migf = kzalloc(sizeof(*migf), GFP_KERNEL_ACCOUNT);
	if (!migf)
		return ERR_PTR(-ENOMEM);
	migf->filp = anon_inode_getfile("edu_mig", fops, migf, flags);
	if (IS_ERR(migf->filp)) {
		int err = PTR_ERR(migf->filp);

		kfree(migf);
		return ERR_PTR(err);
	}
	stream_open(migf->filp->f_inode, migf->filp);
	mutex_init(&migf->lock);
	return migf;
}

/* Drops the driver's references to the data files (the user may hold more). */
static void edu_disable_files(struct edu_vfio_pci_core_device *edev)
{
	if (edev->saving) {
		edu_disable_file(edev->saving);
		fput(edev->saving->filp);
		edev->saving = NULL;
	}
	if (edev->resuming) {
		edu_disable_file(edev->resuming);
		fput(edev->resuming->filp);
		edev->resuming = NULL;
	}
}

/*
 * STOP -> STOP_COPY: the registers now, in a file the user reads; RUNNING
 * -> PRE_COPY (precopy): the same, taken while the device runs, in a file
 * whose stream goes on into STOP_COPY.
 */
static struct file *edu_start_saving(struct edu_vfio_pci_core_device *edev,
				     bool precopy)
{
	struct edu_mig_file *migf;
	int ret;

	migf = edu_new_file(&edu_save_fops, O_RDONLY);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	ret = edu_save_regs(edev, &migf->data[0]);
	if (ret) {
		fput(migf->filp);
		return ERR_PTR(ret);
	}
	migf->total = sizeof(migf->data[0]);
	migf->precopy = precopy;
	get_file(migf->filp);
	edev->saving = migf;
	return migf->filp;
}

#if EDU_HAS_PRE_COPY
/* PRE_COPY -> STOP_COPY: the device stops; its last state joins the stream. */
static int edu_precopy_stop(struct edu_vfio_pci_core_device *edev)
{
	struct edu_mig_file *migf = edev->saving;
	struct edu_mig_state s;
	int ret;

	if (WARN_ON(!migf))
		return -EINVAL;
	ret = edu_quiesce(edev);
	if (!ret)
		ret = edu_save_regs(edev, &s);
	if (ret)
		return ret;
	mutex_lock(&migf->lock);
	if (migf->total + sizeof(s) > sizeof(migf->data)) {
		ret = -ENOSPC;
	} else {
		memcpy((u8 *)migf->data + migf->total, &s, sizeof(s));
		migf->total += sizeof(s);
		migf->precopy = false;
	}
	mutex_unlock(&migf->lock);
	return ret;
}
#endif

/* STOP -> RESUMING: a file the user writes the saved bytes into. */
static struct file *edu_resuming(struct edu_vfio_pci_core_device *edev)
{
	struct edu_mig_file *migf;

	migf = edu_new_file(&edu_resume_fops, O_WRONLY);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	get_file(migf->filp);
	edev->resuming = migf;
	return migf->filp;
}

/*
 * RESUMING -> STOP: the records written, each checked whole, the last one
 * into the registers.
 */
static int edu_resume_done(struct edu_vfio_pci_core_device *edev)
{
	struct edu_mig_file *migf = edev->resuming;
	struct edu_mig_state s;
	size_t total, i, n;

	mutex_lock(&migf->lock);
	total = migf->total;
	n = total / sizeof(s);
	for (i = 0; i < n; i++) {
		s = migf->data[i];
		if (le32_to_cpu(s.magic) != EDU_MIG_MAGIC ||
		    le32_to_cpu(s.version) != EDU_MIG_VERSION)
			break;
	}
	mutex_unlock(&migf->lock);
	if (!n || total % sizeof(s) || i < n)
		return -EINVAL;
	return edu_load_regs(edev, &s);
}

/* Async mode: binds (or with NULL unbinds) the re-evaluate eventfd. */
static void edu_reeval_set(struct edu_vfio_pci_core_device *edev,
			   struct eventfd_ctx *ctx)
{
	struct eventfd_ctx *old;

	mutex_lock(&edev->reeval_lock);
	old = edev->reeval;
	edev->reeval = ctx;
	mutex_unlock(&edev->reeval_lock);
	if (old)
		eventfd_ctx_put(old);
}

/*
 * Async mode: tells the user to re-read BAR0's layout. With no eventfd
 * bound (a user that knows nothing of index 5) there is no one to tell:
 * the account says so with an irq.unbound marker where the signal would be.
 */
static void edu_reeval_signal(struct edu_vfio_pci_core_device *edev)
{
	u64 t;

	mutex_lock(&edev->reeval_lock);
	/* The stamp is taken right before the signal. */
	t = ktime_get_ns();
	if (edev->reeval) {
		edu_eventfd_signal(edev->reeval);
		edu_account("{\"t\":%llu,\"kind\":\"irq.signal\",\"device\":\"%s\",\"index\":%d,\"source\":\"" EDU_SOURCE "\"}",
			    t, edu_name(edev), EDU_REEVAL_IRQ_INDEX);
	} else {
		edu_account("{\"t\":%llu,\"kind\":\"marker\",\"name\":\"irq.unbound\",\"device\":\"%s\",\"source\":\"" EDU_SOURCE "\",\"fields\":{\"index\":%d}}",
			    t, edu_name(edev), EDU_REEVAL_IRQ_INDEX);
	}
	mutex_unlock(&edev->reeval_lock);
}

static struct edu_vfio_pci_core_device *
edu_vma_dev(struct vm_area_struct *vma)
{
	struct vfio_pci_core_device *vdev = vma->vm_private_data;

	return container_of(vdev, struct edu_vfio_pci_core_device,
			    core_device);
}

/* vfio_pci_core's vm_ops for BAR mappings, which ours wrap. */
static const struct vm_operations_struct *edu_core_vm_ops;

#if EDU_FAULT_MAPS_PAGES
/*
 * Revoke mode: zaps every user mapping of BAR0. vfio_pci_core maps page by
 * page on faults and zaps through the device inode's address space, whose
 * file offsets are the region offsets: so do we.
 */
static void edu_zap_vmas(struct edu_vfio_pci_core_device *edev)
{
	struct vfio_device *vdev = &edev->core_device.vdev;
	u64 len = PAGE_ALIGN(pci_resource_len(edev->core_device.pdev, 0));

	unmap_mapping_range(vdev->inode->i_mapping,
			    VFIO_PCI_INDEX_TO_OFFSET(VFIO_PCI_BAR0_REGION_INDEX),
			    len, true);
}
#else
/*
 * Revoke mode: zaps every tracked BAR0 mapping. vfio_pci_core maps a VMA
 * whole on its first fault and remembers that it did; its close() makes it
 * forget, so that the first fault after the zap maps the VMA again.
 * Lock order as in vfio_pci_core: mmap_lock, then the VMA lists.
 */
static void edu_zap_vmas(struct edu_vfio_pci_core_device *edev)
{
	struct vm_area_struct *vma;
	struct mm_struct *mm;
	struct edu_vma *ev;

	mutex_lock(&edev->vmas_lock);
	list_for_each_entry(ev, &edev->vmas, next)
		ev->zapped = false;
	mutex_unlock(&edev->vmas_lock);
	for (;;) {
		mm = NULL;
		mutex_lock(&edev->vmas_lock);
		list_for_each_entry(ev, &edev->vmas, next) {
			if (ev->zapped)
				continue;
			if (mmget_not_zero(ev->vma->vm_mm)) {
				mm = ev->vma->vm_mm;
				break;
			}
			/* The process is exiting; its mappings go with it. */
			ev->zapped = true;
		}
		mutex_unlock(&edev->vmas_lock);
		if (!mm)
			break;
		mmap_read_lock(mm);
		mutex_lock(&edev->vmas_lock);
		list_for_each_entry(ev, &edev->vmas, next) {
			vma = ev->vma;
			if (ev->zapped || vma->vm_mm != mm)
				continue;
			edu_core_vm_ops->close(vma);
			zap_vma_ptes(vma, vma->vm_start,
				     vma->vm_end - vma->vm_start);
			ev->zapped = true;
		}
		mutex_unlock(&edev->vmas_lock);
		mmap_read_unlock(mm);
		mmput(mm);
	}
}
#endif

/*
 * Starts the trap requirement, under state_mutex. Revoke mode: faults get
 * SIGBUS and the mappings go before the requirement starts, and trap-path
 * accesses made meanwhile wait for it, so that no access is missed and
 * every trap-path access is counted.
 */
static void edu_trap_start(struct edu_vfio_pci_core_device *edev)
{
	u64 bar_len = pci_resource_len(edev->core_device.pdev, 0);

	if (edu_mode == EDU_MODE_ASYNC) {
		mutex_lock(&edev->trap_lock);
		edev->trap_required = true;
		edu_account_range(edev, "trap.on", EDU_TRAP_OFFSET,
				  EDU_TRAP_LENGTH,
				  ",\"fields\":{\"mode\":\"async\"}");
		mutex_unlock(&edev->trap_lock);
		edu_reeval_signal(edev);
		return;
	}
	mutex_lock(&edev->trap_lock);
	edev->trap_pending = true;
	mutex_unlock(&edev->trap_lock);
	down_write(&edev->fault_lock);
	edev->mmaps_revoked = true;
	up_write(&edev->fault_lock);
	edu_zap_vmas(edev);
	edu_account_range(edev, "mmap.revoke", 0, bar_len, "");
	mutex_lock(&edev->trap_lock);
	edev->trap_required = true;
	edev->trap_pending = false;
	edu_account_range(edev, "trap.on", EDU_TRAP_OFFSET, EDU_TRAP_LENGTH,
			  ",\"fields\":{\"mode\":\"revoke\"}");
	mutex_unlock(&edev->trap_lock);
	wake_up_all(&edev->trap_wq);
}

/* Ends the trap requirement, under state_mutex. */
static void edu_trap_end(struct edu_vfio_pci_core_device *edev)
{
	u64 bar_len = pci_resource_len(edev->core_device.pdev, 0);

	mutex_lock(&edev->trap_lock);
	edev->trap_required = false;
	edu_account_range(edev, "trap.off", EDU_TRAP_OFFSET, EDU_TRAP_LENGTH,
			  "");
	mutex_unlock(&edev->trap_lock);
	if (edu_mode == EDU_MODE_ASYNC) {
		edu_reeval_signal(edev);
		return;
	}
	down_write(&edev->fault_lock);
	edev->mmaps_revoked = false;
	edu_account_range(edev, "mmap.restore", 0, bar_len, "");
	up_write(&edev->fault_lock);
}

/*
 * A reset returns the device to RUNNING and ends the requirement. It is
 * noted by reset_done (which runs under vfio_pci_core's memory_lock, so it
 * must not wait for state_mutex) and applied by whoever takes state_mutex
 * next, or by the reset work.
 */
static void edu_state_lock(struct edu_vfio_pci_core_device *edev)
{
	bool pending;

	mutex_lock(&edev->state_mutex);
	spin_lock(&edev->reset_lock);
	pending = edev->reset_pending;
	edev->reset_pending = false;
	spin_unlock(&edev->reset_lock);
	if (!pending)
		return;
	edu_disable_files(edev);
	edev->mig_state = VFIO_DEVICE_STATE_RUNNING;
	if (edev->trap_required)
		edu_trap_end(edev);
}

static void edu_reset_work(struct work_struct *work)
{
	struct edu_vfio_pci_core_device *edev =
		container_of(work, struct edu_vfio_pci_core_device,
			     reset_work);

	edu_state_lock(edev);
	mutex_unlock(&edev->state_mutex);
}

static void edu_reset_done(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);
	struct edu_vfio_pci_core_device *edev;

	if (!vdev)
		return;
	edev = container_of(vdev, struct edu_vfio_pci_core_device,
			    core_device);
	spin_lock(&edev->reset_lock);
	edev->reset_pending = true;
	spin_unlock(&edev->reset_lock);
	schedule_work(&edev->reset_work);
}

/* Whether a state is one of the running ones of the saving group. */
static bool edu_precopy_state(enum vfio_device_mig_state state)
{
#if EDU_HAS_PRE_COPY
	return state == VFIO_DEVICE_STATE_PRE_COPY ||
	       state == VFIO_DEVICE_STATE_PRE_COPY_P2P;
#else
	return false;
#endif
}

/*
 * One arc of the migration state machine. edu does no peer-to-peer DMA, so
 * the P2P states (with p2p=1) behave as their running twins; the device
 * stops (edu_quiesce) on the arcs into STOP and STOP_COPY.
 */
static struct file *edu_step(struct edu_vfio_pci_core_device *edev,
			     enum vfio_device_mig_state next)
{
	enum vfio_device_mig_state cur = edev->mig_state;
	int ret;

	if ((cur == VFIO_DEVICE_STATE_RUNNING ||
	     cur == VFIO_DEVICE_STATE_RUNNING_P2P) &&
	    next == VFIO_DEVICE_STATE_STOP) {
		ret = edu_quiesce(edev);
		return ret ? ERR_PTR(ret) : NULL;
	}
	if ((cur == VFIO_DEVICE_STATE_STOP &&
	     (next == VFIO_DEVICE_STATE_RUNNING ||
	      next == VFIO_DEVICE_STATE_RUNNING_P2P)) ||
	    (cur == VFIO_DEVICE_STATE_RUNNING &&
	     next == VFIO_DEVICE_STATE_RUNNING_P2P) ||
	    (cur == VFIO_DEVICE_STATE_RUNNING_P2P &&
	     next == VFIO_DEVICE_STATE_RUNNING))
		return NULL;
	if (cur == VFIO_DEVICE_STATE_STOP &&
	    next == VFIO_DEVICE_STATE_STOP_COPY)
		return edu_start_saving(edev, false);
#if EDU_HAS_PRE_COPY
	if ((cur == VFIO_DEVICE_STATE_RUNNING &&
	     next == VFIO_DEVICE_STATE_PRE_COPY) ||
	    (cur == VFIO_DEVICE_STATE_RUNNING_P2P &&
	     next == VFIO_DEVICE_STATE_PRE_COPY_P2P))
		return edu_start_saving(edev, true);
	if (edu_precopy_state(cur) && edu_precopy_state(next))
		return NULL;
	if (edu_precopy_state(cur) && next == VFIO_DEVICE_STATE_STOP_COPY) {
		ret = edu_precopy_stop(edev);
		return ret ? ERR_PTR(ret) : NULL;
	}
	if ((cur == VFIO_DEVICE_STATE_PRE_COPY &&
	     next == VFIO_DEVICE_STATE_RUNNING) ||
	    (cur == VFIO_DEVICE_STATE_PRE_COPY_P2P &&
	     next == VFIO_DEVICE_STATE_RUNNING_P2P)) {
		edu_disable_files(edev);
		return NULL;
	}
#endif
	if (cur == VFIO_DEVICE_STATE_STOP_COPY &&
	    next == VFIO_DEVICE_STATE_STOP) {
		edu_disable_files(edev);
		return NULL;
	}
	if (cur == VFIO_DEVICE_STATE_STOP &&
	    next == VFIO_DEVICE_STATE_RESUMING)
		return edu_resuming(edev);
	if (cur == VFIO_DEVICE_STATE_RESUMING &&
	    next == VFIO_DEVICE_STATE_STOP) {
		ret = edu_resume_done(edev);
		if (ret)
			return ERR_PTR(ret);
		edu_disable_files(edev);
		return NULL;
	}
	/* vfio_mig_get_next_state() only offers the arcs above. */
	WARN_ON(true);
	return ERR_PTR(-EINVAL);
}

static struct file *
edu_set_state(struct vfio_device *vdev, enum vfio_device_mig_state new_state)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(vdev);
	enum vfio_device_mig_state next;
	struct file *res = NULL;
	int ret;

	edu_state_lock(edev);
	while (new_state != edev->mig_state) {
		ret = vfio_mig_get_next_state(vdev, edev->mig_state, new_state,
					      &next);
		if (ret) {
			res = ERR_PTR(ret);
			break;
		}
		res = edu_step(edev, next);
		if (IS_ERR(res))
			break;
		edev->mig_state = next;
		/* Saving while running: trapped, if logging did not start it. */
		if (edu_precopy_state(next) && !edev->trap_required)
			edu_trap_start(edev);
		/* Back to RUNNING: the migration is over. */
		if (next == VFIO_DEVICE_STATE_RUNNING && edev->trap_required)
			edu_trap_end(edev);
		/* Only the last arc of a chain may hand out a file. */
		if (WARN_ON(res && new_state != edev->mig_state)) {
			fput(res);
			res = ERR_PTR(-EINVAL);
			break;
		}
	}
	mutex_unlock(&edev->state_mutex);
	return res;
}

static int edu_get_state(struct vfio_device *vdev,
			 enum vfio_device_mig_state *curr_state)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(vdev);

	edu_state_lock(edev);
	*curr_state = edev->mig_state;
	mutex_unlock(&edev->state_mutex);
	return 0;
}

#if EDU_HAS_DATA_SIZE
/* What STOP_COPY will give: one record (PRE_COPY's first one is apart). */
static int edu_get_data_size(struct vfio_device *vdev,
			     unsigned long *stop_copy_length)
{
	*stop_copy_length = sizeof(struct edu_mig_state);
	return 0;
}
#endif

static const struct vfio_migration_ops edu_mig_ops = {
	.migration_set_state = edu_set_state,
	.migration_get_state = edu_get_state,
#if EDU_HAS_DATA_SIZE
	.migration_get_data_size = edu_get_data_size,
#endif
};

/*
 * Dirty tracking, minimal: edu's DMA is not tracked, so no page is ever
 * reported dirty. Starting it starts the trap requirement.
 */
static int edu_log_start(struct vfio_device *vdev,
			 struct rb_root_cached *ranges, u32 nnodes,
			 u64 *page_size)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(vdev);
	int ret = 0;

	edu_state_lock(edev);
	if (edev->logging) {
		ret = -EBUSY;
	} else {
		edev->logging = true;
		/* PRE_COPY may have started it already. */
		if (!edev->trap_required)
			edu_trap_start(edev);
	}
	mutex_unlock(&edev->state_mutex);
	return ret;
}

static int edu_log_stop(struct vfio_device *vdev)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(vdev);

	edu_state_lock(edev);
	if (edev->trap_required)
		edu_trap_end(edev);
	edev->logging = false;
	mutex_unlock(&edev->state_mutex);
	return 0;
}

static int edu_log_read_and_clear(struct vfio_device *vdev,
				  unsigned long iova, unsigned long length,
				  struct iova_bitmap *dirty)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(vdev);
	int ret;

	edu_state_lock(edev);
	ret = edev->logging ? 0 : -EINVAL;
	mutex_unlock(&edev->state_mutex);
	return ret;
}

static const struct vfio_log_ops edu_log_ops = {
	.log_start = edu_log_start,
	.log_stop = edu_log_stop,
	.log_read_and_clear = edu_log_read_and_clear,
};

/* Whether a device fd position lies in the trapped register page. */
static bool edu_trapped_pos(loff_t pos)
{
	u64 off = pos & VFIO_PCI_OFFSET_MASK;

	return VFIO_PCI_OFFSET_TO_INDEX(pos) == VFIO_PCI_BAR0_REGION_INDEX &&
	       off >= EDU_TRAP_OFFSET &&
	       off < EDU_TRAP_OFFSET + EDU_TRAP_LENGTH;
}

/* The trap path: an access to the register page, logged while required. */
static ssize_t edu_trap_rw(struct edu_vfio_pci_core_device *edev,
			   char __user *buf, size_t count, loff_t *ppos,
			   bool iswrite)
{
	struct vfio_device *vdev = &edev->core_device.vdev;
	u64 off = *ppos & VFIO_PCI_OFFSET_MASK;
	u64 value = 0;
	ssize_t ret;

	if (iswrite &&
	    copy_from_user(&value, buf, min_t(size_t, count, sizeof(value))))
		return -EFAULT;
	/* Revoke mode, between the zap and the requirement: wait for it. */
	ret = wait_event_interruptible(edev->trap_wq,
				       !READ_ONCE(edev->trap_pending));
	if (ret)
		return ret;
	if (iswrite)
		ret = vfio_pci_core_write(vdev, buf, count, ppos);
	else
		ret = vfio_pci_core_read(vdev, buf, count, ppos);
	if (ret <= 0)
		return ret;
	if (!iswrite &&
	    copy_from_user(&value, buf, min_t(size_t, ret, sizeof(value))))
		return -EFAULT;
	mutex_lock(&edev->trap_lock);
	if (edev->trap_required) {
		edu_account("{\"t\":%llu,\"kind\":\"marker\",\"name\":\"trap.access\",\"device\":\"%s\",\"source\":\"" EDU_SOURCE "\",\"fields\":{\"op\":\"%s\",\"offset\":%llu,\"value\":%llu}}",
			    ktime_get_ns(), edu_name(edev),
			    iswrite ? "write" : "read", off, value);
		mutex_lock(&edu_acct_lock);
		edu_acct_accesses++;
		mutex_unlock(&edu_acct_lock);
	}
	mutex_unlock(&edev->trap_lock);
	return ret;
}

static ssize_t edu_read(struct vfio_device *core_vdev, char __user *buf,
			size_t count, loff_t *ppos)
{
	if (edu_trapped_pos(*ppos))
		return edu_trap_rw(edu_vdev(core_vdev), buf, count, ppos,
				   false);
	return vfio_pci_core_read(core_vdev, buf, count, ppos);
}

static ssize_t edu_write(struct vfio_device *core_vdev,
			 const char __user *buf, size_t count, loff_t *ppos)
{
	if (edu_trapped_pos(*ppos))
		return edu_trap_rw(edu_vdev(core_vdev), (char __user *)buf,
				   count, ppos, true);
	return vfio_pci_core_write(core_vdev, buf, count, ppos);
}

#if !EDU_FAULT_MAPS_PAGES
static void edu_track_vma(struct edu_vfio_pci_core_device *edev,
			  struct vm_area_struct *vma)
{
	struct edu_vma *ev;

	/* vm_ops->open cannot fail; the record is a few bytes. */
	ev = kzalloc(sizeof(*ev), GFP_KERNEL | __GFP_NOFAIL);
	ev->vma = vma;
	mutex_lock(&edev->vmas_lock);
	list_add(&ev->next, &edev->vmas);
	mutex_unlock(&edev->vmas_lock);
}

static void edu_vma_open(struct vm_area_struct *vma)
{
	edu_core_vm_ops->open(vma);
	edu_track_vma(edu_vma_dev(vma), vma);
}

static void edu_vma_close(struct vm_area_struct *vma)
{
	struct edu_vfio_pci_core_device *edev = edu_vma_dev(vma);
	struct edu_vma *ev;

	edu_core_vm_ops->close(vma);
	mutex_lock(&edev->vmas_lock);
	list_for_each_entry(ev, &edev->vmas, next) {
		if (ev->vma == vma) {
			list_del(&ev->next);
			kfree(ev);
			break;
		}
	}
	mutex_unlock(&edev->vmas_lock);
}

#endif

/* Revoked mappings fault with SIGBUS; otherwise vfio_pci_core maps. */
static vm_fault_t edu_vma_fault(struct vm_fault *vmf)
{
	struct edu_vfio_pci_core_device *edev = edu_vma_dev(vmf->vma);
	vm_fault_t ret;

	down_read(&edev->fault_lock);
	if (edev->mmaps_revoked)
		ret = VM_FAULT_SIGBUS;
	else
		ret = edu_core_vm_ops->fault(vmf);
	up_read(&edev->fault_lock);
	return ret;
}

#if EDU_FAULT_MAPS_PAGES
static vm_fault_t edu_vma_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct edu_vfio_pci_core_device *edev = edu_vma_dev(vmf->vma);
	vm_fault_t ret;

	down_read(&edev->fault_lock);
	if (edev->mmaps_revoked)
		ret = VM_FAULT_SIGBUS;
	else
		ret = edu_core_vm_ops->huge_fault(vmf, order);
	up_read(&edev->fault_lock);
	return ret;
}

/*
 * vfio_pci_core's BAR vm_ops with the faults wrapped, made from the first
 * mapping's: whatever else core sets there stays as core wants it.
 */
static struct vm_operations_struct edu_vm_ops;
static DEFINE_MUTEX(edu_vm_ops_lock);

static void edu_wrap_vm_ops(struct vm_area_struct *vma)
{
	mutex_lock(&edu_vm_ops_lock);
	if (!edu_core_vm_ops) {
		edu_vm_ops = *vma->vm_ops;
		edu_vm_ops.fault = edu_vma_fault;
		if (edu_vm_ops.huge_fault)
			edu_vm_ops.huge_fault = edu_vma_huge_fault;
		WRITE_ONCE(edu_core_vm_ops, vma->vm_ops);
	}
	mutex_unlock(&edu_vm_ops_lock);
	vma->vm_ops = &edu_vm_ops;
}
#else
static const struct vm_operations_struct edu_vm_ops = {
	.open = edu_vma_open,
	.close = edu_vma_close,
	.fault = edu_vma_fault,
};
#endif

static int edu_mmap(struct vfio_device *core_vdev, struct vm_area_struct *vma)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(core_vdev);
	unsigned int index = vma->vm_pgoff >>
			     (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);
	u64 start = (vma->vm_pgoff &
		     ((1ULL << (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT)) - 1))
		    << PAGE_SHIFT;
	u64 end = start + (vma->vm_end - vma->vm_start);
	bool refused;
	int ret;

	if (index != VFIO_PCI_BAR0_REGION_INDEX)
		return vfio_pci_core_mmap(core_vdev, vma);
	if (edu_mode == EDU_MODE_ASYNC) {
		/* While required, the layout leaves the page out: so do we. */
		mutex_lock(&edev->trap_lock);
		refused = edev->trap_required &&
			  start < EDU_TRAP_OFFSET + EDU_TRAP_LENGTH &&
			  end > EDU_TRAP_OFFSET;
		mutex_unlock(&edev->trap_lock);
		if (refused)
			return -EACCES;
		return vfio_pci_core_mmap(core_vdev, vma);
	}
	ret = vfio_pci_core_mmap(core_vdev, vma);
	if (ret)
		return ret;
#if EDU_FAULT_MAPS_PAGES
	if (WARN_ON_ONCE(!vma->vm_ops || !vma->vm_ops->fault ||
			 (edu_core_vm_ops && vma->vm_ops != edu_core_vm_ops))) {
		/* Not the vfio_pci_core this was written against. */
		return -EINVAL;
	}
	edu_wrap_vm_ops(vma);
#else
	if (WARN_ON_ONCE(!vma->vm_ops || !vma->vm_ops->fault ||
			 !vma->vm_ops->open || !vma->vm_ops->close)) {
		/* Not the vfio_pci_core this was written against. */
		return -EINVAL;
	}
	WRITE_ONCE(edu_core_vm_ops, vma->vm_ops);
	vma->vm_ops = &edu_vm_ops;
	edu_track_vma(edev, vma);
#endif
	return 0;
}

/* GET_INFO: async mode has one more interrupt index, re-evaluate. */
static long edu_device_info(struct edu_vfio_pci_core_device *edev,
			    unsigned long arg)
{
	struct vfio_device_info __user *uinfo = (void __user *)arg;
	u32 num_irqs = EDU_REEVAL_IRQ_INDEX + 1;
	long ret;

	ret = vfio_pci_core_ioctl(&edev->core_device.vdev,
				  VFIO_DEVICE_GET_INFO, arg);
	if (ret || edu_mode != EDU_MODE_ASYNC)
		return ret;
	return put_user(num_irqs, &uinfo->num_irqs) ? -EFAULT : 0;
}

/*
 * GET_REGION_INFO: in async mode while required, BAR0 gains a sparse-mmap
 * capability with one area, the BAR past the register page.
 */
static long edu_region_info(struct edu_vfio_pci_core_device *edev,
			    unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);
	struct vfio_region_info_cap_sparse_mmap *sparse;
	struct vfio_info_cap caps = { .buf = NULL, .size = 0 };
	struct vfio_region_info info;
	bool required;
	size_t size;
	int ret;

	if (edu_mode != EDU_MODE_ASYNC)
		goto core;
	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	if (info.index != VFIO_PCI_BAR0_REGION_INDEX ||
	    !edev->core_device.bar_mmap_supported[info.index])
		goto core;
	mutex_lock(&edev->trap_lock);
	required = edev->trap_required;
	mutex_unlock(&edev->trap_lock);
	if (!required)
		goto core;

	info.offset = VFIO_PCI_INDEX_TO_OFFSET(info.index);
	info.size = pci_resource_len(edev->core_device.pdev, info.index);
	info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		     VFIO_REGION_INFO_FLAG_MMAP;
	size = struct_size(sparse, areas, 1);
	sparse = kzalloc(size, GFP_KERNEL);
	if (!sparse)
		return -ENOMEM;
	sparse->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
	sparse->header.version = 1;
	sparse->nr_areas = 1;
	sparse->areas[0].offset = EDU_TRAP_OFFSET + EDU_TRAP_LENGTH;
	sparse->areas[0].size = info.size - sparse->areas[0].offset;
	ret = vfio_info_add_capability(&caps, &sparse->header, size);
	kfree(sparse);
	if (ret)
		return ret;
	info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
	if (info.argsz < sizeof(info) + caps.size) {
		info.argsz = sizeof(info) + caps.size;
		info.cap_offset = 0;
	} else {
		vfio_info_cap_shift(&caps, sizeof(info));
		if (copy_to_user((void __user *)arg + sizeof(info), caps.buf,
				 caps.size)) {
			kfree(caps.buf);
			return -EFAULT;
		}
		info.cap_offset = sizeof(info);
	}
	kfree(caps.buf);
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
core:
	return vfio_pci_core_ioctl(&edev->core_device.vdev,
				   VFIO_DEVICE_GET_REGION_INFO, arg);
}

/* GET_IRQ_INFO: the re-evaluate index takes one eventfd. */
static long edu_irq_info(struct edu_vfio_pci_core_device *edev,
			 unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);
	struct vfio_irq_info info;

	if (edu_mode != EDU_MODE_ASYNC)
		goto core;
	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	if (info.index != EDU_REEVAL_IRQ_INDEX)
		goto core;
	info.flags = VFIO_IRQ_INFO_EVENTFD;
	info.count = 1;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
core:
	return vfio_pci_core_ioctl(&edev->core_device.vdev,
				   VFIO_DEVICE_GET_IRQ_INFO, arg);
}

/*
 * SET_IRQS on the re-evaluate index: ACTION_TRIGGER with DATA_EVENTFD
 * binds an eventfd (-1 unbinds), DATA_NONE with count 0 unbinds, DATA_NONE
 * with count 1 or DATA_BOOL true signals it.
 */
static long edu_set_irqs(struct edu_vfio_pci_core_device *edev,
			 unsigned long arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct eventfd_ctx *ctx = NULL;
	struct vfio_irq_set hdr;
	size_t data_size = 0;
	s32 fd;
	u8 on;
	int ret;

	if (edu_mode != EDU_MODE_ASYNC)
		goto core;
	if (copy_from_user(&hdr, (void __user *)arg, minsz))
		return -EFAULT;
	if (hdr.index != EDU_REEVAL_IRQ_INDEX)
		goto core;
	ret = vfio_set_irqs_validate_and_prepare(&hdr, 1,
						 EDU_REEVAL_IRQ_INDEX + 1,
						 &data_size);
	if (ret)
		return ret;
	if (!(hdr.flags & VFIO_IRQ_SET_ACTION_TRIGGER))
		return -EINVAL;
	switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
	case VFIO_IRQ_SET_DATA_EVENTFD:
		if (get_user(fd, (s32 __user *)(arg + minsz)))
			return -EFAULT;
		if (fd >= 0) {
			ctx = eventfd_ctx_fdget(fd);
			if (IS_ERR(ctx))
				return PTR_ERR(ctx);
		} else if (fd != -1) {
			return -EINVAL;
		}
		edu_reeval_set(edev, ctx);
		return 0;
	case VFIO_IRQ_SET_DATA_NONE:
		if (hdr.count)
			edu_reeval_signal(edev);
		else
			edu_reeval_set(edev, NULL);
		return 0;
	case VFIO_IRQ_SET_DATA_BOOL:
		if (get_user(on, (u8 __user *)(arg + minsz)))
			return -EFAULT;
		if (on)
			edu_reeval_signal(edev);
		return 0;
	}
	return -EINVAL;
core:
	return vfio_pci_core_ioctl(&edev->core_device.vdev,
				   VFIO_DEVICE_SET_IRQS, arg);
}

static long edu_ioctl(struct vfio_device *core_vdev, unsigned int cmd,
		      unsigned long arg)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(core_vdev);

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return edu_device_info(edev, arg);
	case VFIO_DEVICE_GET_REGION_INFO:
		return edu_region_info(edev, arg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return edu_irq_info(edev, arg);
	case VFIO_DEVICE_SET_IRQS:
		return edu_set_irqs(edev, arg);
	}
	return vfio_pci_core_ioctl(core_vdev, cmd, arg);
}

static int edu_init_dev(struct vfio_device *core_vdev)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(core_vdev);

	mutex_init(&edev->state_mutex);
	spin_lock_init(&edev->reset_lock);
	INIT_WORK(&edev->reset_work, edu_reset_work);
	mutex_init(&edev->trap_lock);
	init_waitqueue_head(&edev->trap_wq);
	init_rwsem(&edev->fault_lock);
	mutex_init(&edev->vmas_lock);
	INIT_LIST_HEAD(&edev->vmas);
	mutex_init(&edev->reeval_lock);
	core_vdev->migration_flags = VFIO_MIGRATION_STOP_COPY;
	if (p2p)
		core_vdev->migration_flags |= VFIO_MIGRATION_P2P;
#if EDU_HAS_PRE_COPY
	core_vdev->migration_flags |= VFIO_MIGRATION_PRE_COPY;
#endif
	core_vdev->mig_ops = &edu_mig_ops;
	core_vdev->log_ops = &edu_log_ops;
	return vfio_pci_core_init_dev(core_vdev);
}

static void edu_release_dev(struct vfio_device *core_vdev)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(core_vdev);

	cancel_work_sync(&edev->reset_work);
	mutex_destroy(&edev->reeval_lock);
	mutex_destroy(&edev->vmas_lock);
	mutex_destroy(&edev->trap_lock);
	mutex_destroy(&edev->state_mutex);
	vfio_pci_core_release_dev(core_vdev);
}

static int edu_open_device(struct vfio_device *core_vdev)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(core_vdev);
	struct vfio_pci_core_device *vdev = &edev->core_device;
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;
	/* Not requested: vfio_pci_core requests BAR0 itself when mapped. */
	edev->bar0 = pci_iomap(vdev->pdev, 0, 0);
	if (!edev->bar0) {
		vfio_pci_core_disable(vdev);
		return -ENOMEM;
	}
	edev->mig_state = VFIO_DEVICE_STATE_RUNNING;
	edev->logging = false;
	edev->trap_required = false;
	edev->trap_pending = false;
	edev->mmaps_revoked = false;
	spin_lock(&edev->reset_lock);
	edev->reset_pending = false;
	spin_unlock(&edev->reset_lock);
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static void edu_close_device(struct vfio_device *core_vdev)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(core_vdev);

	edu_state_lock(edev);
	edu_disable_files(edev);
	/* The user is gone: so is the requirement (its mappings went first). */
	if (edev->trap_required)
		edu_trap_end(edev);
	edev->logging = false;
	mutex_unlock(&edev->state_mutex);
	edu_reeval_set(edev, NULL);
	pci_iounmap(edev->core_device.pdev, edev->bar0);
	edev->bar0 = NULL;
	vfio_pci_core_close_device(core_vdev);
}

static const struct vfio_device_ops edu_vfio_pci_ops = {
	.name = "edu-vfio-pci",
	.init = edu_init_dev,
	.release = edu_release_dev,
#if EDU_HAS_IOMMUFD_OPS
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
#endif
#if EDU_HAS_DETACH_IOAS
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
#endif
	.open_device = edu_open_device,
	.close_device = edu_close_device,
	.ioctl = edu_ioctl,
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = edu_read,
	.write = edu_write,
	.mmap = edu_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
};

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu_vfio_pci_core_device *edev;
	int ret;

	edev = vfio_alloc_device(edu_vfio_pci_core_device, core_device.vdev,
				 &pdev->dev, &edu_vfio_pci_ops);
	if (IS_ERR(edev))
		return PTR_ERR(edev);

	dev_set_drvdata(&pdev->dev, &edev->core_device);
	ret = vfio_pci_core_register_device(&edev->core_device);
	if (ret) {
		vfio_put_device(&edev->core_device.vdev);
		return ret;
	}
	return 0;
}

static void edu_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	vfio_pci_core_unregister_device(vdev);
	vfio_put_device(&vdev->vdev);
}

static const struct pci_device_id edu_vfio_pci_table[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(0x1234, 0x11e8) },	/* QEMU edu */
	{}
};
MODULE_DEVICE_TABLE(pci, edu_vfio_pci_table);

static const struct pci_error_handlers edu_err_handlers = {
	.reset_done = edu_reset_done,
	.error_detected = vfio_pci_core_aer_err_detected,
};

static struct pci_driver edu_vfio_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = edu_vfio_pci_table,
	.probe = edu_probe,
	.remove = edu_remove,
	.err_handler = &edu_err_handlers,
	.driver_managed_dma = true,
};

static int __init edu_init(void)
{
	int ret;

	if (sysfs_streq(mode, "async")) {
		edu_mode = EDU_MODE_ASYNC;
	} else if (sysfs_streq(mode, "revoke")) {
		edu_mode = EDU_MODE_REVOKE;
	} else {
		pr_err(KBUILD_MODNAME ": mode must be async or revoke\n");
		return -EINVAL;
	}
	edu_acct_size = (size_t)account_kb * 1024;
	edu_acct_buf = vmalloc(edu_acct_size);
	if (!edu_acct_buf)
		return -ENOMEM;
	/* The account's first line: its clock pair, for vfiotrace merge. */
	edu_account("{\"clock\":{\"monotonicNs\":%llu,\"realtimeNs\":%llu}}",
		    ktime_get_ns(), ktime_get_real_ns());
	edu_debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("account", 0400, edu_debugfs, NULL,
			    &edu_account_fops);
	debugfs_create_file("stats", 0400, edu_debugfs, NULL,
			    &edu_stats_fops);
	ret = pci_register_driver(&edu_vfio_pci_driver);
	if (ret) {
		debugfs_remove_recursive(edu_debugfs);
		vfree(edu_acct_buf);
	}
	return ret;
}
module_init(edu_init);

static void __exit edu_exit(void)
{
	pci_unregister_driver(&edu_vfio_pci_driver);
	debugfs_remove_recursive(edu_debugfs);
	vfree(edu_acct_buf);
}
module_exit(edu_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-pci variant driver with migration for QEMU's edu");
