/* SPDX-License-Identifier: MIT */
/*
 * The daemons' command line: the options QEMU's "Backend program
 * conventions" ask of every vhost-user back end, the device's own options,
 * --help and --print-capabilities. Every mistake gets one clear line on
 * stderr and the caller exits with status 1, so a management layer that
 * starts a daemon with a wrong option learns it at once.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "daemon.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* getopt_long() values of the common options; device options get
 * OPT_DEVICE + their index. */
enum {
	OPT_SOCKET_PATH = 256,
	OPT_FD,
	OPT_CLIENT,
	OPT_PRINT_CAPABILITIES,
	OPT_VERSION,
	OPT_DEVICE = 1024
};

#define MAX_DEVICE_OPTIONS 32

static const struct option common_options[] = {
	{ "socket-path", required_argument, NULL, OPT_SOCKET_PATH },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "client", no_argument, NULL, OPT_CLIENT },
	{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPABILITIES },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
};

#define N_COMMON (sizeof(common_options) / sizeof(common_options[0]))

void daemon_usage_error(const struct daemon_desc *desc, const char *format,
			...)
{
	va_list args;

	fprintf(stderr, "%s: ", desc->program);
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	fprintf(stderr, "\nTry '%s --help' for more information.\n",
		desc->program);
}

int daemon_parse_u64(const char *text, uint64_t min, uint64_t max,
		     uint64_t *value)
{
	unsigned long long v;
	char *end;

	/* strtoull() would accept " 12", "+12" and even "-12". */
	if (!text || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*value = v;
	return 0;
}

int daemon_parse_uint(const char *text, unsigned int min, unsigned int max,
		      unsigned int *value)
{
	uint64_t v;
	int r = daemon_parse_u64(text, min, max, &v);

	if (r == 0)
		*value = (unsigned int)v;
	return r;
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

/* The shape of QEMU's vhost-user.json VHostUserBackendCapabilities. */
static void print_capabilities(const struct daemon_desc *desc)
{
	printf("{\n  \"type\": ");
	print_json_string(desc->type);
	printf(",\n  \"features\": [");
	for (unsigned int i = 0; desc->features && desc->features[i]; i++) {
		printf("%s\n    ", i ? "," : "");
		print_json_string(desc->features[i]);
	}
	printf("%s]\n}\n", desc->features && desc->features[0] ? "\n  " : "");
}

static void print_option(const char *name, const char *arg, const char *help)
{
	char left[64];

	snprintf(left, sizeof(left), "--%s%s%s", name, arg ? "=" : "",
		 arg ? arg : "");
	printf("      %-26s %s\n", left, help);
}

static void print_help(const struct daemon_desc *desc)
{
	printf("Usage: %s [OPTION]...\n%s\n\n", desc->program, desc->summary);
	print_option("socket-path", "PATH",
		     "listen on PATH (with --client: connect to it)");
	print_option("fd", "FDNUM",
		     "serve the vhost-user socket inherited as FDNUM");
	print_option("client", NULL, "connect to --socket-path, retrying");
	print_option("print-capabilities", NULL,
		     "print the capabilities as JSON and exit");
	printf("  -v, %-26s %s\n", "--verbose",
	       "log more (twice: debug messages)");
	printf("  -h, %-26s %s\n", "--help", "print this help and exit");
	print_option("version", NULL, "print the version and exit");
	if (desc->options && desc->options[0].name) {
		printf("\nDevice options:\n");
		for (unsigned int i = 0; desc->options[i].name; i++)
			print_option(desc->options[i].name,
				     desc->options[i].arg,
				     desc->options[i].help);
	}
	printf("\nSIGTERM or SIGINT ends the daemon with status 0.\n");
}

/* The conventions say --print-capabilities ignores every other option, so
 * it is looked for before getopt could complain about any of them. */
static bool wants_capabilities(int argc, char *argv[])
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--print-capabilities") == 0)
			return true;
	}
	return false;
}

/* Names what getopt_long() refused in argv[optind - 1]. */
static void report_getopt_error(const struct daemon_desc *desc,
				const struct option *table, int code,
				const char *word)
{
	const char *eq;

	if (code == ':') {
		daemon_usage_error(desc, "option '%s' needs an argument", word);
		return;
	}
	if (strncmp(word, "--", 2) != 0) {
		/* A short option, possibly inside a group like -vx. */
		daemon_usage_error(desc, "unknown option '-%c'", optopt);
		return;
	}
	eq = strchr(word, '=');
	if (eq) {
		size_t len = (size_t)(eq - word) - 2;

		for (unsigned int i = 0; table[i].name; i++) {
			if (strlen(table[i].name) == len &&
			    strncmp(table[i].name, word + 2, len) == 0 &&
			    table[i].has_arg == no_argument) {
				daemon_usage_error(desc,
					"option '--%s' takes no argument",
					table[i].name);
				return;
			}
		}
	}
	daemon_usage_error(desc, "unknown option '%s'", word);
}

static int parse_fd(const struct daemon_desc *desc, const char *text, int *fd)
{
	uint64_t v;

	if (daemon_parse_u64(text, 0, INT_MAX, &v) < 0) {
		daemon_usage_error(desc, "--fd: '%s' is not a file descriptor "
				   "number", text);
		return -EINVAL;
	}
	*fd = (int)v;
	return 0;
}

static int set_device_option(const struct daemon_desc *desc,
			     unsigned int index, const char *value)
{
	const struct daemon_option *opt = &desc->options[index];
	int r = opt->set(desc->ctx, value);

	if (r == -ERANGE)
		daemon_usage_error(desc, "--%s: '%s' is out of range",
				   opt->name, value);
	else if (r < 0)
		daemon_usage_error(desc, "--%s: invalid value '%s'",
				   opt->name, value ? value : "");
	return r < 0 ? -EINVAL : 0;
}

/* Options that only make sense together. */
static int check_common(const struct daemon_desc *desc,
			const struct daemon_args *args)
{
	struct sockaddr_un sun;

	if (args->socket_path && args->fd >= 0) {
		daemon_usage_error(desc, "--socket-path and --fd cannot be "
				   "used together");
		return -EINVAL;
	}
	if (!args->socket_path && args->fd < 0) {
		daemon_usage_error(desc, "one of --socket-path or --fd is "
				   "required");
		return -EINVAL;
	}
	if (args->client && !args->socket_path) {
		daemon_usage_error(desc, "--client needs --socket-path");
		return -EINVAL;
	}
	if (args->socket_path && args->socket_path[0] == '\0') {
		daemon_usage_error(desc, "--socket-path: the path is empty");
		return -EINVAL;
	}
	if (args->socket_path &&
	    strlen(args->socket_path) >= sizeof(sun.sun_path)) {
		daemon_usage_error(desc, "--socket-path: the path is longer "
				   "than the %zu bytes a UNIX socket allows",
				   sizeof(sun.sun_path) - 1);
		return -EINVAL;
	}
	return 0;
}

int daemon_parse(const struct daemon_desc *desc, int argc, char *argv[],
		 struct daemon_args *args)
{
	struct option table[N_COMMON + MAX_DEVICE_OPTIONS + 1];
	unsigned int n = 0;
	int verbose = 0, c;

	*args = (struct daemon_args){ .fd = -1, .log_priority = -1 };
	if (wants_capabilities(argc, argv)) {
		print_capabilities(desc);
		return 1;
	}

	for (unsigned int i = 0; i < N_COMMON; i++)
		table[n++] = common_options[i];
	for (unsigned int i = 0; desc->options && desc->options[i].name; i++) {
		if (i == MAX_DEVICE_OPTIONS) {
			daemon_usage_error(desc, "more than %d device options",
					   MAX_DEVICE_OPTIONS);
			return -EINVAL;
		}
		table[n++] = (struct option){
			.name = desc->options[i].name,
			.has_arg = desc->options[i].arg ? required_argument
							: no_argument,
			.val = OPT_DEVICE + (int)i,
		};
	}
	table[n] = (struct option){ 0 };

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hv", table, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET_PATH:
			args->socket_path = optarg;
			break;
		case OPT_FD:
			if (parse_fd(desc, optarg, &args->fd) < 0)
				return -EINVAL;
			break;
		case OPT_CLIENT:
			args->client = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			print_help(desc);
			return 1;
		case OPT_VERSION:
			printf("%s %s\n", desc->program, PACKAGE_VERSION);
			return 1;
		case '?':
		case ':':
			report_getopt_error(desc, table, c, argv[optind - 1]);
			return -EINVAL;
		default:
			if (set_device_option(desc,
					      (unsigned int)(c - OPT_DEVICE),
					      optarg) < 0)
				return -EINVAL;
			break;
		}
	}
	if (optind < argc) {
		daemon_usage_error(desc, "unexpected argument '%s'",
				   argv[optind]);
		return -EINVAL;
	}
	if (verbose)
		args->log_priority = verbose > 1 ? VHOSTDEV_LOG_DEBUG
						 : VHOSTDEV_LOG_INFO;
	if (check_common(desc, args) < 0)
		return -EINVAL;
	if (desc->check && desc->check(desc->ctx) < 0)
		return -EINVAL;
	return 0;
}
