/* SPDX-License-Identifier: MIT */
/* vhostdev-probe's human-readable report. */
#include <inttypes.h>

#include "probe.h"

static void print_bits(FILE *f, const struct probe_result *r, uint64_t v,
		       bool protocol)
{
	for (unsigned int b = 0; b < 64; b++) {
		const char *name;

		if (!(v & VHF_BIT(b)))
			continue;
		name = protocol ? vhf_protocol_feature_name(b)
				: probe_feature_name(r->dev, b);
		if (name)
			fprintf(f, "    %-24s (bit %u)\n", name, b);
		else if (!protocol && b < 24 && !r->dev)
			fprintf(f, "    %-24s (bit %u)\n",
				"device-specific", b);
		else
			fprintf(f, "    %-24s (bit %u)\n", "unknown", b);
	}
}

static void hexdump(FILE *f, const uint8_t *p, unsigned int n)
{
	for (unsigned int i = 0; i < n; i += 16) {
		fprintf(f, "    %04x:", i);
		for (unsigned int j = i; j < i + 16 && j < n; j++)
			fprintf(f, " %02x", p[j]);
		fputc('\n', f);
	}
}

void probe_print_text(FILE *f, const struct probe_result *r)
{
	fprintf(f, "socket: %s\n", r->socket);
	if (r->dev)
		fprintf(f, "type: %s (virtio device id %" PRIu32 ")\n",
			r->dev->name, r->dev->virtio_id);
	fprintf(f, "features: 0x%016" PRIx64 "\n", r->features);
	print_bits(f, r, r->features, false);
	if (r->has_protocol) {
		fprintf(f, "protocol features: 0x%016" PRIx64 "\n",
			r->protocol_features);
		print_bits(f, r, r->protocol_features, true);
	} else {
		fprintf(f, "protocol features: not offered\n");
	}
	if (r->has_queue_num)
		fprintf(f, "queues: %" PRIu64 "\n", r->queue_num);
	if (r->has_mem_slots)
		fprintf(f, "max memory slots: %" PRIu64 "\n", r->mem_slots);
	switch (r->config_state) {
	case PROBE_CONFIG_NOT_OFFERED:
		fprintf(f, "config: not offered (no CONFIG protocol feature)\n");
		break;
	case PROBE_CONFIG_SKIPPED:
		fprintf(f, "config: none for this device type\n");
		break;
	case PROBE_CONFIG_REFUSED:
		fprintf(f, "config: refused by the back end (%" PRIu32
			" bytes asked)\n", r->config_asked);
		break;
	case PROBE_CONFIG_OK:
		fprintf(f, "config: %" PRIu32 " bytes\n", r->config_size);
		hexdump(f, r->config, r->config_size);
		for (unsigned int i = 0; i < r->nvalues; i++) {
			const struct probe_value *v = &r->values[i];

			if (v->is_string)
				fprintf(f, "  %s: \"%s\"\n", v->name, v->str);
			else
				fprintf(f, "  %s: %" PRIu64 "\n", v->name,
					v->num);
		}
		break;
	}
}
