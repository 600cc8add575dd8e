/* SPDX-License-Identifier: MIT */
/* vhostdev-probe: connects to any vhost-user back end, negotiates the way
 * a front end does up to GET_CONFIG, and reports what the back end offers
 * (features, protocol features, queues, memory slots, config space). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

enum { EXIT_USAGE = 1, EXIT_BACKEND = 2 };

/* Protocol features a probe acknowledges: just what it uses. */
#define PROBE_PROTOCOL                                                        \
	(VHF_BIT(VHF_PF_MQ) | VHF_BIT(VHF_PF_REPLY_ACK) |                     \
	 VHF_BIT(VHF_PF_CONFIG) | VHF_BIT(VHF_PF_CONFIGURE_MEM_SLOTS))

struct options {
	const char *socket;
	const struct probe_device *dev;
	long config_size;       /* -1: the type's */
	bool json;
	int timeout_ms;
	int wait_ms;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: vhostdev-probe SOCKET [--type ");
	probe_device_print_names(f, "|");
	fprintf(f, "]\n"
		"                      [--config-size N] [--json]"
		" [--timeout MS] [--wait MS]\n"
		"Connects to the vhost-user back end listening on SOCKET and"
		" prints what it offers.\n");
}

static const char *why(int err, int timeout_ms, char *buf, size_t len)
{
	switch (err) {
	case -ETIMEDOUT:
		snprintf(buf, len, "no reply within %d ms", timeout_ms);
		return buf;
	case -ECONNRESET:
	case -EPIPE:
		return "the back end closed the connection";
	case -EPROTO:
		return "unexpected or malformed reply";
	case -EMSGSIZE:
		return "reply too large";
	}
	snprintf(buf, len, "%s", strerror(-err));
	return buf;
}

static int backend_failed(const struct options *o, const char *step, int err)
{
	char buf[64];

	fprintf(stderr, "vhostdev-probe: %s: %s: %s\n", o->socket, step,
		why(err, o->timeout_ms, buf, sizeof(buf)));
	return EXIT_BACKEND;
}

static long parse_number(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "vhostdev-probe: bad %s '%s' (%ld..%ld)\n",
			what, s, min, max);
		exit(EXIT_USAGE);
	}
	return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "config-size", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	o->config_size = -1;
	o->timeout_ms = VHF_DEFAULT_TIMEOUT_MS;
	while ((c = getopt_long(argc, argv, "t:s:jT:w:hV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 't':
			o->dev = probe_device_find(optarg);
			if (!o->dev) {
				fprintf(stderr, "vhostdev-probe: unknown type"
					" '%s'\n", optarg);
				usage(stderr);
				exit(EXIT_USAGE);
			}
			break;
		case 's':
			o->config_size = parse_number(optarg, 0, VHF_CONFIG_MAX,
						      "config size");
			break;
		case 'j':
			o->json = true;
			break;
		case 'T':
			o->timeout_ms = (int)parse_number(optarg, 1, 3600000,
							  "timeout");
			break;
		case 'w':
			o->wait_ms = (int)parse_number(optarg, 0, 3600000,
						       "wait");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vhostdev-probe %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		exit(EXIT_USAGE);
	}
	o->socket = argv[optind];
}

static int read_config(struct vhf_conn *c, const struct options *o,
		       struct probe_result *r)
{
	long size = o->config_size;
	int n;

	if (size < 0)
		size = o->dev ? (long)o->dev->config_size : VHF_CONFIG_MAX;
	if (size == 0) {
		r->config_state = PROBE_CONFIG_SKIPPED;
		return 0;
	}
	r->config_asked = (uint32_t)size;
	n = vhf_get_config(c, 0, r->config, (uint32_t)size,
			   VHF_CONFIG_F_WRITABLE);
	if (n == -EIO) {
		/* Saying no is allowed (the size may be wrong for it). */
		r->config_state = PROBE_CONFIG_REFUSED;
		fprintf(stderr, "vhostdev-probe: %s: GET_CONFIG of %ld bytes"
			" refused by the back end%s\n", o->socket, size,
			o->config_size < 0 ? "; try --config-size" : "");
		return 0;
	}
	if (n < 0)
		return backend_failed(o, "GET_CONFIG", n);
	r->config_size = (uint32_t)n;
	r->config_state = PROBE_CONFIG_OK;
	probe_decode_config(r);
	return 0;
}

static int probe(struct vhf_conn *c, const struct options *o,
		 struct probe_result *r)
{
	int err;

	err = vhf_get_features(c, &r->features);
	if (err < 0)
		return backend_failed(o, "GET_FEATURES", err);
	if (r->features & VHF_BIT(VHF_F_PROTOCOL_FEATURES)) {
		err = vhf_get_protocol_features(c, &r->protocol_features);
		if (err < 0)
			return backend_failed(o, "GET_PROTOCOL_FEATURES", err);
		r->has_protocol = true;
		err = vhf_set_protocol_features(
			c, r->protocol_features & PROBE_PROTOCOL);
		if (err < 0)
			return backend_failed(o, "SET_PROTOCOL_FEATURES", err);
	}
	err = vhf_set_owner(c);
	if (err < 0)
		return backend_failed(o, "SET_OWNER", err);
	if (r->protocol_features & VHF_BIT(VHF_PF_MQ)) {
		err = vhf_get_queue_num(c, &r->queue_num);
		if (err < 0)
			return backend_failed(o, "GET_QUEUE_NUM", err);
		r->has_queue_num = true;
	}
	if (r->protocol_features & VHF_BIT(VHF_PF_CONFIGURE_MEM_SLOTS)) {
		err = vhf_get_max_mem_slots(c, &r->mem_slots);
		if (err < 0)
			return backend_failed(o, "GET_MAX_MEM_SLOTS", err);
		r->has_mem_slots = true;
	}
	if (!(r->protocol_features & VHF_BIT(VHF_PF_CONFIG))) {
		r->config_state = PROBE_CONFIG_NOT_OFFERED;
		return 0;
	}
	return read_config(c, o, r);
}

int main(int argc, char **argv)
{
	static struct probe_result r;
	struct options o = { 0 };
	struct vhf_conn *c;
	int err;

	parse_args(argc, argv, &o);
	r.socket = o.socket;
	r.dev = o.dev;
	err = vhf_connect(o.socket, o.wait_ms, &c);
	if (err < 0) {
		fprintf(stderr, "vhostdev-probe: cannot connect to %s: %s\n",
			o.socket, strerror(-err));
		return EXIT_USAGE;
	}
	vhf_conn_set_timeout(c, o.timeout_ms);
	err = probe(c, &o, &r);
	vhf_conn_free(c);
	if (err)
		return err;
	if (o.json)
		probe_print_json(stdout, &r);
	else
		probe_print_text(stdout, &r);
	return fflush(stdout) == 0 ? 0 : EXIT_USAGE;
}
