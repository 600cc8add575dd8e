/* SPDX-License-Identifier: MIT */
/* What vhostdev-probe learns from a back end, the device types it knows,
 * and the two ways it prints them. */
#ifndef PROBE_H
#define PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vhostfront.h"

/* A config space field: offset and width in the virtio struct, and the
 * device feature bit that makes it meaningful (-1: always). */
struct probe_field_def {
	const char *name;
	uint16_t offset;
	uint8_t width;          /* 1, 2, 4, 8; 0 for a NUL-padded string */
	uint8_t strlen;         /* for strings */
	int8_t feature;
};

struct probe_device {
	const char *name;
	uint32_t virtio_id;
	uint32_t config_size;   /* what a QEMU front end asks for */
	const char *const *feature_names;   /* bits 0..23 */
	const struct probe_field_def *fields;
	unsigned int nfields;
};

const struct probe_device *probe_device_find(const char *name);
/* "blk|fs|rng|..." for the usage message. */
void probe_device_print_names(FILE *f, const char *sep);
/* Name of feature bit for this device type (dev may be NULL): the
 * device's own bits below 24, the transport's above. NULL if unknown. */
const char *probe_feature_name(const struct probe_device *dev,
			       unsigned int bit);

struct probe_value {
	const char *name;
	bool is_string;
	uint64_t num;
	char str[160];          /* escaped for printing */
};

enum probe_config_state {
	PROBE_CONFIG_NOT_OFFERED,  /* no CONFIG protocol feature */
	PROBE_CONFIG_SKIPPED,      /* the type has no config space */
	PROBE_CONFIG_REFUSED,      /* the back end answered with an error */
	PROBE_CONFIG_OK
};

#define PROBE_MAX_VALUES 40

struct probe_result {
	const char *socket;
	const struct probe_device *dev;
	uint64_t features;
	bool has_protocol;
	uint64_t protocol_features;
	bool has_queue_num;
	uint64_t queue_num;
	bool has_mem_slots;
	uint64_t mem_slots;
	enum probe_config_state config_state;
	uint32_t config_asked;
	uint32_t config_size;
	uint8_t config[VHF_CONFIG_MAX];
	struct probe_value values[PROBE_MAX_VALUES];
	unsigned int nvalues;
};

/* Fills r->values from r->config for r->dev. */
void probe_decode_config(struct probe_result *r);

void probe_print_text(FILE *f, const struct probe_result *r);
void probe_print_json(FILE *f, const struct probe_result *r);

#endif
