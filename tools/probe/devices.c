/* SPDX-License-Identifier: MIT */
/* The virtio device types vhostdev-probe can decode: device feature bits
 * and config space layouts, from the virtio 1.x specification. The
 * vhost-user protocol never says which device a back end serves, so the
 * user names it with --type. */
#include <string.h>

#include "probe.h"

#define F(b, n) [b] = n

static const char *const blk_features[24] = {
	F(0, "BARRIER"), F(1, "SIZE_MAX"), F(2, "SEG_MAX"),
	F(4, "GEOMETRY"), F(5, "RO"), F(6, "BLK_SIZE"), F(7, "SCSI"),
	F(9, "FLUSH"), F(10, "TOPOLOGY"), F(11, "CONFIG_WCE"), F(12, "MQ"),
	F(13, "DISCARD"), F(14, "WRITE_ZEROES"), F(15, "LIFETIME"),
	F(16, "SECURE_ERASE"), F(17, "ZONED"),
};

static const struct probe_field_def blk_fields[] = {
	{ "capacity", 0, 8, 0, -1 },
	{ "size_max", 8, 4, 0, 1 },
	{ "seg_max", 12, 4, 0, 2 },
	{ "cylinders", 16, 2, 0, 4 },
	{ "heads", 18, 1, 0, 4 },
	{ "sectors", 19, 1, 0, 4 },
	{ "blk_size", 20, 4, 0, 6 },
	{ "physical_block_exp", 24, 1, 0, 10 },
	{ "alignment_offset", 25, 1, 0, 10 },
	{ "min_io_size", 26, 2, 0, 10 },
	{ "opt_io_size", 28, 4, 0, 10 },
	{ "writeback", 32, 1, 0, 11 },
	{ "num_queues", 34, 2, 0, 12 },
	{ "max_discard_sectors", 36, 4, 0, 13 },
	{ "max_discard_seg", 40, 4, 0, 13 },
	{ "discard_sector_alignment", 44, 4, 0, 13 },
	{ "max_write_zeroes_sectors", 48, 4, 0, 14 },
	{ "max_write_zeroes_seg", 52, 4, 0, 14 },
	{ "write_zeroes_may_unmap", 56, 1, 0, 14 },
	{ "max_secure_erase_sectors", 60, 4, 0, 16 },
	{ "max_secure_erase_seg", 64, 4, 0, 16 },
	{ "secure_erase_sector_alignment", 68, 4, 0, 16 },
	{ "zone_sectors", 72, 4, 0, 17 },
	{ "max_open_zones", 76, 4, 0, 17 },
	{ "max_active_zones", 80, 4, 0, 17 },
	{ "max_append_sectors", 84, 4, 0, 17 },
	{ "write_granularity", 88, 4, 0, 17 },
	{ "zoned_model", 92, 1, 0, 17 },
};

static const char *const fs_features[24] = { F(0, "NOTIFICATION") };
static const struct probe_field_def fs_fields[] = {
	{ "tag", 0, 0, 36, -1 },
	{ "num_request_queues", 36, 4, 0, -1 },
	{ "notify_buf_size", 40, 4, 0, 0 },
};

static const char *const gpio_features[24] = { F(0, "IRQ") };
static const struct probe_field_def gpio_fields[] = {
	{ "ngpio", 0, 2, 0, -1 },
	{ "gpio_names_size", 4, 4, 0, -1 },
};

static const char *const i2c_features[24] = {
	F(0, "ZERO_LENGTH_REQUEST"),
};

/* The input config is a query window: select/subsel pick what the union
 * behind them shows. */
static const struct probe_field_def input_fields[] = {
	{ "select", 0, 1, 0, -1 },
	{ "subsel", 1, 1, 0, -1 },
	{ "size", 2, 1, 0, -1 },
};

static const char *const scsi_features[24] = {
	F(0, "INOUT"), F(1, "HOTPLUG"), F(2, "CHANGE"), F(3, "T10_PI"),
};
static const struct probe_field_def scsi_fields[] = {
	{ "num_queues", 0, 4, 0, -1 },
	{ "seg_max", 4, 4, 0, -1 },
	{ "max_sectors", 8, 4, 0, -1 },
	{ "cmd_per_lun", 12, 4, 0, -1 },
	{ "event_info_size", 16, 4, 0, -1 },
	{ "sense_size", 20, 4, 0, -1 },
	{ "cdb_size", 24, 4, 0, -1 },
	{ "max_channel", 28, 2, 0, -1 },
	{ "max_target", 30, 2, 0, -1 },
	{ "max_lun", 32, 4, 0, -1 },
};

static const char *const vsock_features[24] = {
	F(0, "STREAM"), F(1, "SEQPACKET"),
};
static const struct probe_field_def vsock_fields[] = {
	{ "guest_cid", 0, 8, 0, -1 },
};

static const char *const snd_features[24] = { F(0, "CTLS") };
static const struct probe_field_def snd_fields[] = {
	{ "jacks", 0, 4, 0, -1 },
	{ "streams", 4, 4, 0, -1 },
	{ "chmaps", 8, 4, 0, -1 },
	{ "controls", 12, 4, 0, 0 },
};

static const char *const gpu_features[24] = {
	F(0, "VIRGL"), F(1, "EDID"), F(2, "RESOURCE_UUID"),
	F(3, "RESOURCE_BLOB"), F(4, "CONTEXT_INIT"),
};
static const struct probe_field_def gpu_fields[] = {
	{ "events_read", 0, 4, 0, -1 },
	{ "events_clear", 4, 4, 0, -1 },
	{ "num_scanouts", 8, 4, 0, -1 },
	{ "num_capsets", 12, 4, 0, -1 },
};

static const char *const scmi_features[24] = {
	F(0, "P2A_CHANNELS"), F(1, "SHARED_MEMORY"),
};

static const char *const no_features[24];

#define FIELDS(a) a, sizeof(a) / sizeof(a[0])

static const struct probe_device devices[] = {
	{ "blk", 2, 96, blk_features, FIELDS(blk_fields) },
	{ "fs", 26, 44, fs_features, FIELDS(fs_fields) },
	{ "rng", 4, 0, no_features, NULL, 0 },
	{ "gpio", 41, 8, gpio_features, FIELDS(gpio_fields) },
	{ "i2c", 34, 0, i2c_features, NULL, 0 },
	{ "input", 18, 136, no_features, FIELDS(input_fields) },
	{ "scsi", 8, 36, scsi_features, FIELDS(scsi_fields) },
	{ "vsock", 19, 8, vsock_features, FIELDS(vsock_fields) },
	{ "snd", 25, 16, snd_features, FIELDS(snd_fields) },
	{ "gpu", 16, 16, gpu_features, FIELDS(gpu_fields) },
	{ "scmi", 32, 0, scmi_features, NULL, 0 },
};

#define NDEVICES (sizeof(devices) / sizeof(devices[0]))

const struct probe_device *probe_device_find(const char *name)
{
	for (unsigned int i = 0; i < NDEVICES; i++)
		if (strcmp(devices[i].name, name) == 0)
			return &devices[i];
	return NULL;
}

void probe_device_print_names(FILE *f, const char *sep)
{
	for (unsigned int i = 0; i < NDEVICES; i++)
		fprintf(f, "%s%s", i ? sep : "", devices[i].name);
}

const char *probe_feature_name(const struct probe_device *dev,
			       unsigned int bit)
{
	if (bit < 24)
		return dev ? dev->feature_names[bit] : NULL;
	return vhf_feature_name(bit);
}

static uint64_t get_le(const uint8_t *p, unsigned int width)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < width; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Printable ASCII stays, anything else becomes \xNN. */
static void escape_string(char *out, size_t room, const uint8_t *p,
			  size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && p[i]; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			if (o + 2 > room)
				break;
			out[o++] = (char)p[i];
		} else {
			if (o + 5 > room)
				break;
			o += snprintf(out + o, room - o, "\\x%02x", p[i]);
		}
	}
	out[o] = '\0';
}

void probe_decode_config(struct probe_result *r)
{
	const struct probe_device *dev = r->dev;

	r->nvalues = 0;
	if (!dev || r->config_state != PROBE_CONFIG_OK)
		return;
	for (unsigned int i = 0; i < dev->nfields; i++) {
		const struct probe_field_def *d = &dev->fields[i];
		unsigned int len = d->width ? d->width : d->strlen;
		struct probe_value *v;

		/* A field the back end did not offer means nothing. */
		if (d->feature >= 0 && !(r->features & VHF_BIT(d->feature)))
			continue;
		if (d->offset + len > r->config_size ||
		    r->nvalues == PROBE_MAX_VALUES)
			continue;
		v = &r->values[r->nvalues++];
		v->name = d->name;
		v->is_string = d->width == 0;
		if (v->is_string)
			escape_string(v->str, sizeof(v->str),
				      r->config + d->offset, d->strlen);
		else
			v->num = get_le(r->config + d->offset, d->width);
	}
}
