/*
 * webserver.c - a small static-file HTTP server that stands in for nginx and
 * Apache httpd in cri-ts's offline critest images.
 *
 * critest only needs a web server that answers "GET /" with 200 on a known
 * port, and that looks like nginx/httpd from the outside: the process names
 * ("pidof nginx"), the nginx master's title in /proc/1/cmdline ("master
 * process"), the nginx pid file, and a start-up line in the httpd log that
 * names "httpd". It must also stop promptly on the image's STOPSIGNAL while
 * running as PID 1 (where signals without a handler are ignored).
 *
 * The personality is picked from the name the binary is run as:
 *
 *   nginx  master + one worker process, titles "nginx: master process ..."
 *          and "nginx: worker process", pid file /var/run/nginx.pid,
 *          port and document root from /etc/nginx/conf.d/default.conf
 *          ("listen" and "root"), access log on stdout.
 *   httpd  one foreground process, Apache-like start-up lines on stderr,
 *          port and document root from /usr/local/apache2/conf/httpd.conf
 *          ("Listen" and "DocumentRoot"), access log on stdout.
 *
 * Every connection is served by a forked child: one request, one response,
 * "Connection: close". Only GET and HEAD of regular files are supported.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NGINX_CONF "/etc/nginx/conf.d/default.conf"
#define NGINX_PIDFILE "/var/run/nginx.pid"
#define NGINX_TITLE_PREFIX "nginx: master process"
#define HTTPD_CONF "/usr/local/apache2/conf/httpd.conf"

enum personality { NGINX, HTTPD };

struct server {
	enum personality kind;
	const char *name; /* value of the Server: header */
	int port;
	char root[PATH_MAX];
};

static volatile sig_atomic_t stop_requested;
/* The nginx master's worker, so that a stop signal can reach it at once. */
static volatile pid_t worker_pid;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
	/* Waking the master through its worker's exit closes the window between
	 * checking stop_requested and blocking in waitpid(). */
	if (worker_pid > 0)
		kill(worker_pid, SIGTERM);
}

static void install(int sig, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: accept()/waitpid() must return EINTR so that a stop
	 * request is noticed at once. */
	sigaction(sig, &sa, NULL);
}

/* Error lines go to stderr, prefixed like the real server's error log. */
static void errlog(const struct server *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->kind == NGINX)
		dprintf(2, "nginx: [emerg] %s\n", msg);
	else
		dprintf(2, "httpd: %s\n", msg);
}

/*
 * Returns the second word of the first non-comment line of PATH whose first
 * word is KEY, without a trailing ';' and without surrounding quotes.
 */
static int conf_lookup(const char *path, const char *key, char *out, size_t len)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *save = NULL;
		char *word = strtok_r(line, " \t\r\n", &save);
		char *value;
		size_t n;

		if (!word || word[0] == '#' || strcmp(word, key) != 0)
			continue;
		value = strtok_r(NULL, " \t\r\n", &save);
		if (!value)
			continue;
		n = strlen(value);
		while (n > 0 && (value[n - 1] == ';' || value[n - 1] == '"'))
			value[--n] = '\0';
		if (value[0] == '"')
			value++;
		snprintf(out, len, "%s", value);
		found = 1;
	}
	fclose(f);
	return found;
}

/* "80", "0.0.0.0:80" and "[::]:80" all give 80. */
static int parse_port(const char *value)
{
	const char *colon = strrchr(value, ':');
	long port = strtol(colon ? colon + 1 : value, NULL, 10);

	return (port > 0 && port < 65536) ? (int)port : -1;
}

static void load_config(struct server *s)
{
	char value[PATH_MAX];
	const char *conf = s->kind == NGINX ? NGINX_CONF : HTTPD_CONF;

	s->port = 80;
	snprintf(s->root, sizeof(s->root), "%s",
		 s->kind == NGINX ? "/usr/share/nginx/html" : "/usr/local/apache2/htdocs");
	if (conf_lookup(conf, s->kind == NGINX ? "listen" : "Listen", value, sizeof(value))) {
		int port = parse_port(value);

		if (port < 0) {
			errlog(s, "invalid port \"%s\" in %s", value, conf);
			exit(1);
		}
		s->port = port;
	}
	if (conf_lookup(conf, s->kind == NGINX ? "root" : "DocumentRoot", value, sizeof(value)))
		snprintf(s->root, sizeof(s->root), "%s", value);
}

static int open_listener(const struct server *s)
{
	struct sockaddr_in addr;
	struct timeval tick = { .tv_sec = 1, .tv_usec = 0 };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0) {
		errlog(s, "socket() failed (%d: %s)", errno, strerror(errno));
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	addr.sin_port = htons((unsigned short)s->port);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		errlog(s, "bind() to 0.0.0.0:%d failed (%d: %s)", s->port, errno, strerror(errno));
		exit(1);
	}
	if (listen(fd, 128) < 0) {
		errlog(s, "listen() to 0.0.0.0:%d failed (%d: %s)", s->port, errno, strerror(errno));
		exit(1);
	}
	/* accept() honours SO_RCVTIMEO: waking up every second lets the accept
	 * loop notice a stop signal that arrived just before it blocked. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick));
	return fd;
}

static const char *content_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (!dot)
		return "application/octet-stream";
	if (!strcmp(dot, ".html") || !strcmp(dot, ".htm"))
		return "text/html";
	if (!strcmp(dot, ".txt"))
		return "text/plain";
	if (!strcmp(dot, ".css"))
		return "text/css";
	if (!strcmp(dot, ".js"))
		return "application/javascript";
	return "application/octet-stream";
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Case-insensitive search for a header value in the raw request head. */
static void header_value(const char *head, const char *name, char *out, size_t len)
{
	size_t nlen = strlen(name);
	const char *p = strchr(head, '\n');

	snprintf(out, len, "-");
	while (p && *++p) {
		if (!strncasecmp(p, name, nlen) && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			size_t n = 0;

			while (*v == ' ' || *v == '\t')
				v++;
			while (v[n] && v[n] != '\r' && v[n] != '\n')
				n++;
			if (n >= len)
				n = len - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return;
		}
		p = strchr(p, '\n');
	}
}

static void access_log(const struct server *s, const char *peer, const char *request_line,
		       int status, long long bytes, const char *head)
{
	char when[64];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S %z", &tm);
	if (s->kind == NGINX) {
		char referer[256], agent[256];

		header_value(head, "Referer", referer, sizeof(referer));
		header_value(head, "User-Agent", agent, sizeof(agent));
		dprintf(1, "%s - - [%s] \"%s\" %d %lld \"%s\" \"%s\" \"-\"\n", peer, when,
			request_line, status, bytes, referer, agent);
	} else if (bytes > 0) {
		dprintf(1, "%s - - [%s] \"%s\" %d %lld\n", peer, when, request_line, status, bytes);
	} else {
		dprintf(1, "%s - - [%s] \"%s\" %d -\n", peer, when, request_line, status);
	}
}

static void respond(int fd, const struct server *s, int status, const char *reason,
		    const char *type, long long length, int with_body, const char *body)
{
	char head[512], date[64];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\nContent-Type: %s\r\n"
		     "Content-Length: %lld\r\nConnection: close\r\n\r\n",
		     status, reason, s->name, date, type, length);
	write_all(fd, head, (size_t)n);
	if (with_body && body)
		write_all(fd, body, strlen(body));
}

static void error_page(int fd, const struct server *s, int status, const char *reason, int with_body,
		       long long *sent)
{
	char body[256];

	snprintf(body, sizeof(body), "<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>\n",
		 status, reason, status, reason);
	respond(fd, s, status, reason, "text/html", (long long)strlen(body), with_body, body);
	*sent = with_body ? (long long)strlen(body) : 0;
}

/* Serves exactly one request on FD and logs it. Runs in a forked child. */
static void handle_connection(int fd, const struct server *s, const char *peer)
{
	char req[8192], request_line[1024], method[16], target[2048], path[PATH_MAX + 2048];
	struct timeval timeout = { .tv_sec = 10, .tv_usec = 0 };
	size_t used = 0;
	int status, with_body, file;
	long long sent = 0;
	struct stat st;
	char *eol, *query;

	/* A client that connects and never speaks must not pin this child forever. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	while (used < sizeof(req) - 1) {
		ssize_t n = read(fd, req + used, sizeof(req) - 1 - used);

		if (n <= 0)
			break;
		used += (size_t)n;
		req[used] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[used] = '\0';
	if (used == 0)
		return;

	eol = strpbrk(req, "\r\n");
	snprintf(request_line, sizeof(request_line), "%.*s", eol ? (int)(eol - req) : (int)used, req);
	if (sscanf(request_line, "%15s %2047s", method, target) != 2 || target[0] != '/') {
		error_page(fd, s, 400, "Bad Request", 1, &sent);
		access_log(s, peer, request_line, 400, sent, req);
		return;
	}
	with_body = strcmp(method, "HEAD") != 0;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		error_page(fd, s, 405, "Not Allowed", 1, &sent);
		access_log(s, peer, request_line, 405, sent, req);
		return;
	}
	query = strpbrk(target, "?#");
	if (query)
		*query = '\0';
	/* Never serve anything outside the document root. */
	if (strstr(target, "/../") || (strlen(target) >= 3 && !strcmp(target + strlen(target) - 3, "/.."))) {
		error_page(fd, s, 400, "Bad Request", with_body, &sent);
		access_log(s, peer, request_line, 400, sent, req);
		return;
	}
	snprintf(path, sizeof(path), "%s%s", s->root, target);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		strncat(path, path[strlen(path) - 1] == '/' ? "index.html" : "/index.html",
			sizeof(path) - strlen(path) - 1);

	file = open(path, O_RDONLY | O_CLOEXEC);
	if (file < 0 || fstat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
		status = (file < 0 && errno == EACCES) ? 403 : 404;
		if (file >= 0)
			close(file);
		error_page(fd, s, status, status == 403 ? "Forbidden" : "Not Found", with_body, &sent);
		access_log(s, peer, request_line, status, sent, req);
		return;
	}
	respond(fd, s, 200, "OK", content_type(path), (long long)st.st_size, 0, NULL);
	if (with_body) {
		char buf[16384];
		ssize_t n;

		while ((n = read(file, buf, sizeof(buf))) > 0) {
			if (write_all(fd, buf, (size_t)n) != 0)
				break;
			sent += n;
		}
	}
	close(file);
	access_log(s, peer, request_line, 200, sent, req);
}

/* Accepts connections until a stop signal arrives; one child per connection. */
static void serve(int listener, const struct server *s)
{
	/* Children (and anything re-parented to us) are reaped by the kernel. */
	signal(SIGCHLD, SIG_IGN);
	while (!stop_requested) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		char addr[INET_ADDRSTRLEN] = "-";
		int fd = accept4(listener, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
		pid_t pid;

		if (fd < 0) {
			if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED)
				sleep(1);
			continue;
		}
		inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof(addr));
		pid = fork();
		if (pid == 0) {
			close(listener);
			handle_connection(fd, s, addr);
			shutdown(fd, SHUT_WR);
			close(fd);
			_exit(0);
		}
		close(fd);
	}
}

/* ---- nginx personality ---- */

/*
 * Replaces the process title in place, as nginx does: /proc/PID/cmdline shows
 * the argv area, so overwriting it (and zero-padding the rest) renames the
 * process for ps, pgrep -f and "cat /proc/1/cmdline".
 */
static void set_title(char **argv, const char *title)
{
	size_t area = 0;
	int i;

	for (i = 0; argv[i]; i++)
		area += strlen(argv[i]) + 1;
	if (area == 0)
		return;
	memset(argv[0], 0, area);
	snprintf(argv[0], area, "%s", title);
}

static void write_pidfile(const struct server *s)
{
	FILE *f = fopen(NGINX_PIDFILE, "w");

	if (!f) {
		errlog(s, "open() \"%s\" failed (%d: %s)", NGINX_PIDFILE, errno, strerror(errno));
		exit(1);
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
}

static pid_t spawn_worker(int listener, const struct server *s, char **argv)
{
	pid_t pid = fork();

	if (pid < 0) {
		errlog(s, "fork() failed (%d: %s)", errno, strerror(errno));
		return -1;
	}
	if (pid > 0) {
		worker_pid = pid;
		return pid;
	}
	worker_pid = 0;
	/* The worker dies with its master, and stops on any of the master's stop signals. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	install(SIGTERM, on_stop);
	install(SIGINT, on_stop);
	install(SIGQUIT, on_stop);
	signal(SIGHUP, SIG_IGN);
	signal(SIGWINCH, SIG_IGN);
	set_title(argv, "nginx: worker process");
	serve(listener, s);
	_exit(0);
}

static int run_nginx_master(char **argv)
{
	struct server s = { .kind = NGINX, .name = "nginx" };
	pid_t worker;
	int listener;

	load_config(&s);
	listener = open_listener(&s);
	install(SIGTERM, on_stop); /* fast shutdown */
	install(SIGINT, on_stop);
	install(SIGQUIT, on_stop); /* graceful shutdown: the same here */
	/* Reload, log reopening and binary upgrade are accepted and ignored. */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGWINCH, SIG_IGN);
	write_pidfile(&s);

	worker = spawn_worker(listener, &s, argv);
	while (!stop_requested) {
		int status;
		/* As PID 1 the master also reaps whatever gets re-parented to it. */
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0 && errno == ECHILD) {
			sleep(1);
			continue;
		}
		if (pid == worker && !stop_requested) {
			dprintf(2, "nginx: [alert] worker process %d exited, respawning\n", (int)pid);
			sleep(1);
			worker = spawn_worker(listener, &s, argv);
		}
	}
	if (worker > 0) {
		kill(worker, SIGTERM);
		waitpid(worker, NULL, 0);
	}
	worker_pid = 0;
	unlink(NGINX_PIDFILE);
	return 0;
}

/*
 * First start: re-executes itself with a single argument, the master's title
 * built from the original command line ("nginx: master process nginx -g
 * daemon off;"). The kernel names the process after the executed file, so it
 * stays "nginx" for pidof, while /proc/PID/cmdline shows the title.
 */
static int run_nginx(int argc, char **argv)
{
	char title[4096], self[PATH_MAX];
	ssize_t n;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "-V")) {
			dprintf(2, "nginx version: nginx/look-alike (cri-ts critest image)\n");
			return 0;
		}
		if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "-T")) {
			dprintf(2, "nginx: configuration file %s test is successful\n", NGINX_CONF);
			return 0;
		}
	}
	if (!strncmp(argv[0], NGINX_TITLE_PREFIX, strlen(NGINX_TITLE_PREFIX)))
		return run_nginx_master(argv);

	snprintf(title, sizeof(title), "%s", NGINX_TITLE_PREFIX);
	for (i = 0; i < argc; i++) {
		strncat(title, " ", sizeof(title) - strlen(title) - 1);
		strncat(title, argv[i], sizeof(title) - strlen(title) - 1);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *args[] = { title, NULL };

		self[n] = '\0';
		execv(self, args);
	}
	/* Could not re-execute: run as master with the original title. */
	return run_nginx_master(argv);
}

/* ---- httpd personality ---- */

static void httpd_notice(const char *module, const char *msg)
{
	char when[64];
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(when, sizeof(when), "%a %b %d %H:%M:%S", &tm);
	dprintf(2, "[%s.%06ld %d] [%s:notice] [pid %d] %s\n", when, (long)tv.tv_usec,
		tm.tm_year + 1900, module, (int)getpid(), msg);
}

static int run_httpd(int argc, char **argv)
{
	struct server s = { .kind = HTTPD, .name = "Apache" };
	char line[PATH_MAX + 128];
	int listener, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "-V")) {
			dprintf(1, "Server version: Apache look-alike (cri-ts critest image)\n");
			return 0;
		}
	}
	load_config(&s);
	listener = open_listener(&s);
	/* Apache stops gracefully on SIGWINCH (the image's STOPSIGNAL) and at once on SIGTERM. */
	install(SIGTERM, on_stop);
	install(SIGINT, on_stop);
	install(SIGWINCH, on_stop);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);

	snprintf(line, sizeof(line), "httpd look-alike listening on 0.0.0.0:%d, serving %s", s.port, s.root);
	httpd_notice("mpm_event", line);
	httpd_notice("core", "Command line: 'httpd -D FOREGROUND'");
	serve(listener, &s);
	httpd_notice("mpm_event", "caught stop signal, shutting down");
	return 0;
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');

	base = base ? base + 1 : argv[0];
	if (!strncmp(argv[0], "nginx", 5) || !strcmp(base, "nginx"))
		return run_nginx(argc, argv);
	if (!strcmp(base, "httpd"))
		return run_httpd(argc, argv);
	dprintf(2, "%s: run me as \"nginx\" or \"httpd\"\n", argv[0]);
	return 2;
}
