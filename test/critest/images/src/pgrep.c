/*
 * pgrep.c - pgrep/pkill for the busybox look-alike image.
 *
 * Debian's dynamically linked busybox (needed so that its shell really
 * executes /bin/ls) is built without pgrep/pkill, and critest runs
 * "sh -c 'pgrep sleep || true'" in the default image. This covers the usual
 * options: -f (match the full command line), -x (whole-name match), -l / -a
 * (also print the name / command line), -n / -o (newest / oldest only),
 * -v (invert), and for pkill a leading -SIGNAL (name or number).
 * The pattern is a POSIX extended regular expression. Exit status: 0 when
 * something matched, 1 when nothing did, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct proc_info {
	long pid;
	unsigned long long start; /* field 22 of /proc/PID/stat, in clock ticks */
	char comm[64];
	char cmdline[4096];
};

static const struct {
	const char *name;
	int number;
} signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "CONT", SIGCONT },
	{ "STOP", SIGSTOP }, { "ALRM", SIGALRM }, { "WINCH", SIGWINCH },
};

static int parse_signal(const char *s)
{
	size_t i;

	if (isdigit((unsigned char)s[0]))
		return atoi(s);
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcasecmp(s, signals[i].name))
			return signals[i].number;
	return -1;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

static int load(long pid, struct proc_info *p)
{
	char path[64], stat[1024];
	char *open_paren, *close_paren, *field;
	int n, i;

	p->pid = pid;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (read_file(path, stat, sizeof(stat)) < 0)
		return -1;
	/* The name sits between the first '(' and the last ')', and may contain both. */
	open_paren = strchr(stat, '(');
	close_paren = strrchr(stat, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -1;
	snprintf(p->comm, sizeof(p->comm), "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
	/* After ") " comes field 3 (state); the start time is field 22. */
	field = close_paren + 2;
	for (i = 3; i < 22 && field; i++) {
		field = strchr(field, ' ');
		if (field)
			field++;
	}
	p->start = field ? strtoull(field, NULL, 10) : 0;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	n = read_file(path, p->cmdline, sizeof(p->cmdline));
	if (n <= 0) {
		/* Kernel threads and zombies have no command line. */
		snprintf(p->cmdline, sizeof(p->cmdline), "%s", p->comm);
		return 0;
	}
	for (i = 0; i < n - 1; i++)
		if (p->cmdline[i] == '\0')
			p->cmdline[i] = ' ';
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s %s[-flaxvno] PATTERN\n", prog, strcmp(prog, "pkill") ? "" : "[-SIGNAL] ");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int kill_mode = !strcmp(prog, "pkill");
	int full = 0, exact = 0, list_name = 0, list_full = 0, invert = 0, newest = 0, oldest = 0;
	int sig = SIGTERM, matched = 0, failed = 0, i, rc;
	const char *pattern = NULL;
	struct proc_info best = { 0 }, cur;
	long self = (long)getpid();
	regex_t re;
	DIR *proc;
	struct dirent *d;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || a[1] == '\0') {
			if (pattern)
				usage(prog);
			pattern = a;
			continue;
		}
		if (kill_mode && (isdigit((unsigned char)a[1]) || isupper((unsigned char)a[1]))) {
			sig = parse_signal(a + 1);
			if (sig < 0)
				usage(prog);
			continue;
		}
		for (a++; *a; a++) {
			switch (*a) {
			case 'f': full = 1; break;
			case 'x': exact = 1; break;
			case 'l': list_name = 1; break;
			case 'a': list_full = 1; break;
			case 'v': invert = 1; break;
			case 'n': newest = 1; break;
			case 'o': oldest = 1; break;
			default: usage(prog);
			}
		}
	}
	if (!pattern)
		usage(prog);
	{
		/* -x anchors the expression at both ends. */
		size_t len = strlen(pattern) + 8;
		char *expr = malloc(len);

		if (!expr)
			return 2;
		snprintf(expr, len, exact ? "^(%s)$" : "%s", pattern);
		rc = regcomp(&re, expr, REG_EXTENDED | REG_NOSUB);
		free(expr);
		if (rc != 0) {
			fprintf(stderr, "%s: invalid regular expression\n", prog);
			return 2;
		}
	}

	proc = opendir("/proc");
	if (!proc) {
		perror("/proc");
		return 2;
	}
	while ((d = readdir(proc))) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);
		int hit;

		if (*end || pid <= 0 || pid == self)
			continue;
		if (load(pid, &cur) != 0)
			continue;
		hit = regexec(&re, full ? cur.cmdline : cur.comm, 0, NULL, 0) == 0;
		if (hit == invert)
			continue;
		if (newest || oldest) {
			if (!matched || (newest ? cur.start >= best.start : cur.start < best.start))
				best = cur;
			matched = 1;
			continue;
		}
		matched = 1;
		if (kill_mode) {
			if (kill((pid_t)pid, sig) != 0 && errno != ESRCH)
				failed = 1;
		} else if (list_full) {
			printf("%ld %s\n", pid, cur.cmdline);
		} else if (list_name) {
			printf("%ld %s\n", pid, cur.comm);
		} else {
			printf("%ld\n", pid);
		}
	}
	closedir(proc);
	if ((newest || oldest) && matched) {
		if (kill_mode)
			failed = kill((pid_t)best.pid, sig) != 0;
		else if (list_full)
			printf("%ld %s\n", best.pid, best.cmdline);
		else if (list_name)
			printf("%ld %s\n", best.pid, best.comm);
		else
			printf("%ld\n", best.pid);
	}
	regfree(&re);
	if (fflush(stdout) != 0)
		return 2;
	return matched && !failed ? 0 : 1;
}
