/*
 * The benchmark's compiled receiver: the same contract as bench/receiver.ts (answers 204, or 503
 * while "down"; counts distinct webhook-ids; records each event's latency from its ce-time to its
 * arrival; control paths /ctl/stats, /ctl/reset, /ctl/down, /ctl/up; prints its port on stdout),
 * in C with one epoll loop, so that on a 2-core machine it takes as little CPU from the bridge as
 * possible. Built by bench/run.ts with the system C compiler; only 127.0.0.1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define ID_SLOT 48

typedef struct {
  int fd;
  char *buf;
  size_t len, cap;
} conn_t;

static int down = 0;
static long long requests = 0, first_at = 0, last_at = 0;
static long long *lat = NULL;
static size_t lat_len = 0, lat_cap = 0;

/* Open-addressing set of webhook-ids (fixed slots, grows at half load). */
static char *ids = NULL;
static size_t ids_cap = 0, ids_len = 0;

static uint64_t hash_id(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h;
}

static int set_add(const char *s, size_t n);

static void set_grow(void) {
  char *old = ids;
  size_t old_cap = ids_cap;
  ids_cap = old_cap ? old_cap * 2 : 1 << 16;
  ids = calloc(ids_cap, ID_SLOT);
  if (!ids) abort();
  ids_len = 0;
  for (size_t i = 0; i < old_cap; i++) {
    char *slot = old + i * ID_SLOT;
    if (slot[0]) set_add(slot + 1, (unsigned char)slot[0]);
  }
  free(old);
}

/* 1 when the id was new. Ids longer than the slot are cut (webhook-ids here are 36-char UUIDs). */
static int set_add(const char *s, size_t n) {
  if (n > ID_SLOT - 1) n = ID_SLOT - 1;
  if ((ids_len + 1) * 2 > ids_cap) set_grow();
  size_t i = hash_id(s, n) & (ids_cap - 1);
  for (;;) {
    char *slot = ids + i * ID_SLOT;
    if (!slot[0]) {
      slot[0] = (char)n;
      memcpy(slot + 1, s, n);
      ids_len++;
      return 1;
    }
    if ((size_t)(unsigned char)slot[0] == n && memcmp(slot + 1, s, n) == 0) return 0;
    i = (i + 1) & (ids_cap - 1);
  }
}

static void set_clear(void) {
  if (ids) memset(ids, 0, ids_cap * ID_SLOT);
  ids_len = 0;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 3339 UTC as sent in ce-time: YYYY-MM-DDTHH:MM:SS[.mmm]Z; -1 when unparsable. */
static long long parse_ce_time(const char *s, size_t n) {
  if (n < 20) return -1;
  struct tm tm = {0};
  char tmp[32];
  if (n >= sizeof tmp) return -1;
  memcpy(tmp, s, n);
  tmp[n] = 0;
  int ms = 0;
  if (sscanf(tmp, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) return -1;
  if (tmp[19] == '.') ms = atoi(tmp + 20);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (long long)timegm(&tm) * 1000 + ms;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      fd_set set; /* rare (large stats answers): wait until writable */
      FD_ZERO(&set);
      FD_SET(fd, &set);
      select(fd + 1, NULL, &set, NULL, NULL);
    } else {
      return;
    }
  }
}

static const char R204[] = "HTTP/1.1 204 No Content\r\n\r\n";
static const char R503[] = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n";

static void stats(int fd, int with_latencies) {
  size_t cap = 256 + (with_latencies ? lat_len * 21 : 0);
  char *body = malloc(cap);
  size_t n = (size_t)snprintf(body, cap, "{\"requests\":%lld,\"distinct\":%zu,\"firstAt\":%lld,\"lastAt\":%lld,\"latencies\":[", requests, ids_len, first_at, last_at);
  if (with_latencies) {
    for (size_t i = 0; i < lat_len; i++) n += (size_t)snprintf(body + n, cap - n, i ? ",%lld" : "%lld", lat[i]);
  }
  n += (size_t)snprintf(body + n, cap - n, "]}");
  char head[128];
  int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n\r\n", n);
  write_all(fd, head, (size_t)h);
  write_all(fd, body, n);
  free(body);
}

/* Value of header `name` (lower-case, with ':') in the head [p, end), or NULL. */
static const char *header(const char *p, const char *end, const char *name, size_t *len) {
  size_t nl = strlen(name);
  while (p < end) {
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!eol) eol = end;
    if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0) {
      const char *v = p + nl;
      while (v < eol && *v == ' ') v++;
      *len = (size_t)(eol - v);
      return v;
    }
    p = eol + 2;
  }
  return NULL;
}

/* Handles every complete request in the buffer; returns -1 to close. */
static int serve(conn_t *c) {
  size_t off = 0;
  for (;;) {
    char *start = c->buf + off;
    size_t avail = c->len - off;
    char *eoh = memmem(start, avail, "\r\n\r\n", 4);
    if (!eoh) break;
    char *hdr = memchr(start, '\n', (size_t)(eoh - start));
    const char *hend = eoh + 2;
    hdr = hdr ? hdr + 1 : eoh;
    size_t vlen = 0;
    const char *cl = header(hdr, hend, "content-length:", &vlen);
    size_t body_len = cl ? (size_t)strtoul(cl, NULL, 10) : 0;
    size_t total = (size_t)(eoh + 4 - start) + body_len;
    if (avail < total) break;

    int is_ctl = strncmp(start, "GET /ctl/", 9) == 0 || strncmp(start, "POST /ctl/", 10) == 0;
    if (is_ctl) {
      const char *path = strchr(start, ' ') + 1;
      if (strncmp(path, "/ctl/stats", 10) == 0) {
        size_t x;
        stats(c->fd, header(hdr, hend, "x-with-latencies:", &x) != NULL);
      } else {
        if (strncmp(path, "/ctl/reset", 10) == 0) {
          requests = 0;
          first_at = last_at = 0;
          lat_len = 0;
          set_clear();
        } else if (strncmp(path, "/ctl/down", 9) == 0) {
          down = 1;
        } else if (strncmp(path, "/ctl/up", 7) == 0) {
          down = 0;
        }
        write_all(c->fd, R204, sizeof R204 - 1);
      }
    } else {
      requests++;
      if (down) {
        write_all(c->fd, R503, sizeof R503 - 1);
      } else {
        long long t = now_ms();
        size_t idlen = 0, celen = 0;
        const char *id = header(hdr, hend, "webhook-id:", &idlen);
        if (set_add(id ? id : "", id ? idlen : 0)) {
          const char *ce = header(hdr, hend, "ce-time:", &celen);
          long long ce_ms = ce ? parse_ce_time(ce, celen) : -1;
          if (ce_ms >= 0) {
            if (lat_len == lat_cap) {
              lat_cap = lat_cap ? lat_cap * 2 : 1 << 16;
              lat = realloc(lat, lat_cap * sizeof *lat);
              if (!lat) abort();
            }
            lat[lat_len++] = t - ce_ms;
          }
          if (!first_at) first_at = t;
          last_at = t;
        }
        write_all(c->fd, R204, sizeof R204 - 1);
      }
    }
    off += total;
  }
  if (off > 0) {
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
  }
  return 0;
}

static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

int main(void) {
  signal(SIGTERM, on_term);
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 1024) != 0) {
    perror("receiver: bind/listen");
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(ls, (struct sockaddr *)&addr, &alen);
  printf("%d\n", ntohs(addr.sin_port));
  fflush(stdout);

  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(ep, events, MAX_EVENTS, -1);
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conn_t *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          nc->cap = 65536;
          nc->buf = malloc(nc->cap);
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      int closed = 0;
      for (;;) {
        if (c->len == c->cap) {
          c->cap *= 2;
          c->buf = realloc(c->buf, c->cap);
        }
        ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r > 0) {
          c->len += (size_t)r;
          continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) closed = 1;
        break;
      }
      if (!closed && serve(c) < 0) closed = 1;
      if (closed) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c->buf);
        free(c);
      }
    }
  }
}
