// SPDX-License-Identifier: GPL-2.0-only
/*
 * A vfio-pci variant driver for QEMU's edu device (1234:11e8) with
 * migration v2 (STOP_COPY), written against Linux 6.1's vfio_pci_core.
 *
 * The device's state is its BAR0 registers: the card liveness value, the
 * interrupt-on-finish bit, the interrupt status and the DMA source,
 * destination and count. STOP waits for a running factorial or DMA to end;
 * STOP -> STOP_COPY snapshots the registers into a save file; a resume file
 * takes the same bytes and RESUMING -> STOP writes them back.
 *
 * Save and resume files are anon-inode stream files: the VFS passes no
 * position for them, so read and write use the file's own position and
 * refuse positioned I/O.
 */

#include <linux/anon_inodes.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

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

/* A save or resume file: the record and how much of it was read or written. */
struct edu_mig_file {
	struct file *filp;
	struct mutex lock;	/* serialises read/write against release */
	bool disabled;
	size_t total;
	struct edu_mig_state data;
};

struct edu_vfio_pci_core_device {
	struct vfio_pci_core_device core_device;
	struct mutex state_mutex;	/* serialises migration state changes */
	enum vfio_device_mig_state mig_state;
	void __iomem *bar0;
	struct edu_mig_file *saving;
	struct edu_mig_file *resuming;
};

static struct edu_vfio_pci_core_device *
edu_vdev(struct vfio_device *core_vdev)
{
	return container_of(core_vdev, struct edu_vfio_pci_core_device,
			    core_device.vdev);
}

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
		done = 0;
		goto out;
	}
	len = min_t(size_t, len, migf->total - *pos);
	if (copy_to_user(buf, (u8 *)&migf->data + *pos, len)) {
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
	if (copy_from_user((u8 *)&migf->data + *pos, buf, len)) {
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

static const struct file_operations edu_save_fops = {
	.owner = THIS_MODULE,
	.read = edu_save_read,
	.release = edu_release_file,
	.llseek = no_llseek,
};

static const struct file_operations edu_resume_fops = {
	.owner = THIS_MODULE,
	.write = edu_resume_write,
	.release = edu_release_file,
	.llseek = no_llseek,
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

/* STOP -> STOP_COPY: the registers now, in a file the user reads. */
static struct file *edu_stop_copy(struct edu_vfio_pci_core_device *edev)
{
	struct edu_mig_file *migf;
	int ret;

	migf = edu_new_file(&edu_save_fops, O_RDONLY);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	ret = edu_save_regs(edev, &migf->data);
	if (ret) {
		fput(migf->filp);
		return ERR_PTR(ret);
	}
	migf->total = sizeof(migf->data);
	get_file(migf->filp);
	edev->saving = migf;
	return migf->filp;
}

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

/* RESUMING -> STOP: the bytes written, checked whole, into the registers. */
static int edu_resume_done(struct edu_vfio_pci_core_device *edev)
{
	struct edu_mig_file *migf = edev->resuming;
	struct edu_mig_state s;
	size_t total;

	mutex_lock(&migf->lock);
	total = migf->total;
	s = migf->data;
	mutex_unlock(&migf->lock);
	if (total != sizeof(s) || le32_to_cpu(s.magic) != EDU_MIG_MAGIC ||
	    le32_to_cpu(s.version) != EDU_MIG_VERSION)
		return -EINVAL;
	return edu_load_regs(edev, &s);
}

/* One arc of the migration state machine. */
static struct file *edu_step(struct edu_vfio_pci_core_device *edev,
			     enum vfio_device_mig_state next)
{
	enum vfio_device_mig_state cur = edev->mig_state;
	int ret;

	if (cur == VFIO_DEVICE_STATE_RUNNING &&
	    next == VFIO_DEVICE_STATE_STOP) {
		ret = edu_quiesce(edev);
		return ret ? ERR_PTR(ret) : NULL;
	}
	if (cur == VFIO_DEVICE_STATE_STOP &&
	    next == VFIO_DEVICE_STATE_RUNNING)
		return NULL;
	if (cur == VFIO_DEVICE_STATE_STOP &&
	    next == VFIO_DEVICE_STATE_STOP_COPY)
		return edu_stop_copy(edev);
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

	mutex_lock(&edev->state_mutex);
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

	mutex_lock(&edev->state_mutex);
	*curr_state = edev->mig_state;
	mutex_unlock(&edev->state_mutex);
	return 0;
}

static const struct vfio_migration_ops edu_mig_ops = {
	.migration_set_state = edu_set_state,
	.migration_get_state = edu_get_state,
};

static int edu_init_dev(struct vfio_device *core_vdev)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(core_vdev);

	mutex_init(&edev->state_mutex);
	core_vdev->migration_flags = VFIO_MIGRATION_STOP_COPY;
	core_vdev->mig_ops = &edu_mig_ops;
	return vfio_pci_core_init_dev(core_vdev);
}

static void edu_release_dev(struct vfio_device *core_vdev)
{
	mutex_destroy(&edu_vdev(core_vdev)->state_mutex);
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
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static void edu_close_device(struct vfio_device *core_vdev)
{
	struct edu_vfio_pci_core_device *edev = edu_vdev(core_vdev);

	mutex_lock(&edev->state_mutex);
	edu_disable_files(edev);
	mutex_unlock(&edev->state_mutex);
	pci_iounmap(edev->core_device.pdev, edev->bar0);
	edev->bar0 = NULL;
	vfio_pci_core_close_device(core_vdev);
}

static const struct vfio_device_ops edu_vfio_pci_ops = {
	.name = "edu-vfio-pci",
	.init = edu_init_dev,
	.release = edu_release_dev,
	.open_device = edu_open_device,
	.close_device = edu_close_device,
	.ioctl = vfio_pci_core_ioctl,
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = vfio_pci_core_read,
	.write = vfio_pci_core_write,
	.mmap = vfio_pci_core_mmap,
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

static struct pci_driver edu_vfio_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = edu_vfio_pci_table,
	.probe = edu_probe,
	.remove = edu_remove,
	.err_handler = &vfio_pci_core_err_handlers,
	.driver_managed_dma = true,
};
module_pci_driver(edu_vfio_pci_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vfio-pci variant driver with migration for QEMU's edu");
