/* SPDX-License-Identifier: MIT */
/* vhostdev-probe's JSON report (--json): one object, stable keys, for
 * scripts and tests. */
#include <inttypes.h>

#include "probe.h"

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_bits(FILE *f, const char *key, const struct probe_result *r,
		      uint64_t v, bool protocol)
{
	bool first = true;

	fprintf(f, "  \"%s\": {\n    \"value\": \"0x%016" PRIx64 "\",\n"
		   "    \"names\": [", key, v);
	for (unsigned int b = 0; b < 64; b++) {
		const char *name = protocol ? vhf_protocol_feature_name(b)
					    : probe_feature_name(r->dev, b);

		if (!(v & VHF_BIT(b)) || !name)
			continue;
		fprintf(f, "%s", first ? "" : ", ");
		json_string(f, name);
		first = false;
	}
	fprintf(f, "],\n    \"unknown_bits\": [");
	first = true;
	for (unsigned int b = 0; b < 64; b++) {
		const char *name = protocol ? vhf_protocol_feature_name(b)
					    : probe_feature_name(r->dev, b);

		if (!(v & VHF_BIT(b)) || name)
			continue;
		fprintf(f, "%s%u", first ? "" : ", ", b);
		first = false;
	}
	fprintf(f, "]\n  },\n");
}

static const char *config_state_name(enum probe_config_state s)
{
	switch (s) {
	case PROBE_CONFIG_NOT_OFFERED:
		return "not-offered";
	case PROBE_CONFIG_SKIPPED:
		return "none";
	case PROBE_CONFIG_REFUSED:
		return "refused";
	case PROBE_CONFIG_OK:
		break;
	}
	return "ok";
}

void probe_print_json(FILE *f, const struct probe_result *r)
{
	fprintf(f, "{\n  \"socket\": ");
	json_string(f, r->socket);
	fprintf(f, ",\n");
	if (r->dev) {
		fprintf(f, "  \"type\": ");
		json_string(f, r->dev->name);
		fprintf(f, ",\n  \"virtio_id\": %" PRIu32 ",\n",
			r->dev->virtio_id);
	}
	json_bits(f, "features", r, r->features, false);
	if (r->has_protocol)
		json_bits(f, "protocol_features", r, r->protocol_features,
			  true);
	if (r->has_queue_num)
		fprintf(f, "  \"queues\": %" PRIu64 ",\n", r->queue_num);
	if (r->has_mem_slots)
		fprintf(f, "  \"max_mem_slots\": %" PRIu64 ",\n", r->mem_slots);
	fprintf(f, "  \"config\": {\n    \"state\": \"%s\"",
		config_state_name(r->config_state));
	if (r->config_state == PROBE_CONFIG_REFUSED)
		fprintf(f, ",\n    \"asked\": %" PRIu32, r->config_asked);
	if (r->config_state == PROBE_CONFIG_OK) {
		fprintf(f, ",\n    \"size\": %" PRIu32 ",\n    \"hex\": \"",
			r->config_size);
		for (unsigned int i = 0; i < r->config_size; i++)
			fprintf(f, "%02x", r->config[i]);
		fprintf(f, "\",\n    \"fields\": {");
		for (unsigned int i = 0; i < r->nvalues; i++) {
			const struct probe_value *v = &r->values[i];

			fprintf(f, "%s\n      ", i ? "," : "");
			json_string(f, v->name);
			fprintf(f, ": ");
			if (v->is_string)
				json_string(f, v->str);
			else
				fprintf(f, "%" PRIu64, v->num);
		}
		fprintf(f, "%s}", r->nvalues ? "\n    " : "");
	}
	fprintf(f, "\n  }\n}\n");
}
