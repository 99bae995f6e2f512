/*
 * The load client of bench:cluster, in C: the same closed-loop loads as
 * load-client.ts (steady echo) and churn-client.ts (connect, one message,
 * close), with the same marks and result line, for a fraction of their CPU.
 *
 * Why C: the client shares this machine's two cores with the servers it
 * measures. The Node clients spend ~25 us of CPU per echoed request (this
 * one ~9 us, nearly all of it in the kernel's send and recv), so they,
 * not the servers, set the pace; the servers then sleep between requests,
 * and what bench:cluster divides by their CPU is as much their sleeping and
 * waking as their work. A client that costs little beyond its system calls
 * loads the servers the way a busy service is loaded (wrk plays this part
 * in the http variant).
 *
 *   load-client echo|churn <port> <connections> <size> <seconds> <warmup> <marks>
 *
 * echo: each connection sends a size-byte message (a sequence number, then a
 * fill byte derived from it), waits until all of it came back, checks every
 * byte, and sends the next. churn: each slot connects, sends one message,
 * reads its echo, shuts down its side, waits for the server's close, and
 * starts over. Requests (cycles) started during the first `warmup` seconds
 * are not counted. With marks=1 it prints {"mark":"counting"} when counting
 * starts and {"mark":"done"} at the deadline. Last, one line
 * {"requests":N,"seconds":S,"p99":P} (latency in seconds). A wrong byte or a
 * connection error exits with status 1: a benchmark must not count
 * failures as work.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum Phase { CONNECTING, ECHOING, CLOSING };

typedef struct {
  int fd;
  int slot;
  enum Phase phase;
  unsigned seq;
  int received;
  double started; /* when this request (echo) or cycle (churn) began */
  unsigned char *message;
  unsigned char *buffer;
} Conn;

static int churn;
static int size;
static struct sockaddr_in server;
static int epoll;

/* Latencies of counted requests (seconds), grown as needed. */
static double *latencies;
static size_t counted, capacity;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fail(const Conn *c, const char *what) {
  fprintf(stderr, "load-client: connection %d: %s%s%s\n", c->slot, what, errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
  exit(1);
}

static void record(double latency) {
  if (counted == capacity) {
    capacity = capacity == 0 ? 1 << 16 : capacity * 2;
    latencies = realloc(latencies, capacity * sizeof *latencies);
    if (latencies == NULL) {
      perror("load-client: realloc");
      exit(1);
    }
  }
  latencies[counted++] = latency;
}

static void watch(Conn *c, int op, unsigned events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(epoll, op, c->fd, &ev) != 0) fail(c, "epoll_ctl");
}

/* Echo: the next message, different from the last so that a stale echo is caught. */
static void send_message(Conn *c) {
  if (!churn) {
    c->seq++;
    c->message[0] = (unsigned char)(c->seq >> 24);
    c->message[1] = (unsigned char)(c->seq >> 16);
    c->message[2] = (unsigned char)(c->seq >> 8);
    c->message[3] = (unsigned char)c->seq;
    memset(c->message + 4, (int)(c->seq & 0xff), (size_t)size - 4);
    c->started = now();
  }
  c->received = 0;
  errno = 0;
  /* A small message on an idle connection always fits the socket buffer: a short send is an error here. */
  if (send(c->fd, c->message, (size_t)size, MSG_NOSIGNAL) != size) fail(c, "send");
}

/* Churn: a new connection, non-blocking, completing under EPOLLOUT. */
static void open_connection(Conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) fail(c, "socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->started = now();
  if (connect(c->fd, (struct sockaddr *)&server, sizeof server) == 0) {
    c->phase = ECHOING;
    watch(c, EPOLL_CTL_ADD, EPOLLIN);
    send_message(c);
  } else if (errno == EINPROGRESS) {
    c->phase = CONNECTING;
    watch(c, EPOLL_CTL_ADD, EPOLLOUT);
  } else {
    fail(c, "connect");
  }
}

/* Handles readiness of `c`; returns 0 once the connection is done for good. */
static int on_ready(Conn *c, double count_from, double deadline) {
  if (c->phase == CONNECTING) {
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
    errno = error;
    if (error != 0) fail(c, "connect");
    c->phase = ECHOING;
    watch(c, EPOLL_CTL_MOD, EPOLLIN);
    send_message(c);
    return 1;
  }
  ssize_t n = recv(c->fd, c->buffer, (size_t)size, 0);
  if (n < 0) {
    if (errno == EAGAIN) return 1;
    fail(c, "recv");
  }
  if (c->phase == CLOSING) {
    errno = 0;
    if (n > 0) fail(c, "bytes after the echo");
    close(c->fd);
    double t = now();
    if (c->started >= count_from) record(t - c->started);
    if (t >= deadline) return 0;
    open_connection(c);
    return 1;
  }
  errno = 0;
  if (n == 0) fail(c, "closed by the server before the whole echo came back");
  if (c->received + n > size) fail(c, "more bytes than sent");
  if (memcmp(c->buffer, c->message + c->received, (size_t)n) != 0) fail(c, "echoed bytes differ");
  c->received += (int)n;
  if (c->received < size) return 1;
  if (churn) {
    /* Half-close, as the Node client's end(); the server's close ends the cycle. */
    shutdown(c->fd, SHUT_WR);
    c->phase = CLOSING;
    return 1;
  }
  double t = now();
  if (c->started >= count_from) record(t - c->started);
  if (t < deadline) {
    send_message(c);
    return 1;
  }
  close(c->fd);
  return 0;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 8 || (strcmp(argv[1], "echo") != 0 && strcmp(argv[1], "churn") != 0)) {
    fprintf(stderr, "usage: load-client echo|churn <port> <connections> <size> <seconds> <warmup> <marks>\n");
    return 2;
  }
  churn = strcmp(argv[1], "churn") == 0;
  int port = atoi(argv[2]);
  int connections = atoi(argv[3]);
  size = atoi(argv[4]);
  double seconds = atof(argv[5]);
  double warmup = atof(argv[6]);
  int marks = atoi(argv[7]);
  if (port <= 0 || connections <= 0 || size < 4 || seconds <= 0 || warmup < 0) {
    fprintf(stderr, "load-client: bad arguments (size must be at least 4 bytes: the sequence number)\n");
    return 2;
  }
  server.sin_family = AF_INET;
  server.sin_port = htons((unsigned short)port);
  inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
  epoll = epoll_create1(0);
  double start = now();
  double count_from = start + warmup;
  double deadline = count_from + seconds;

  Conn *conns = calloc((size_t)connections, sizeof *conns);
  for (int i = 0; i < connections; i++) {
    Conn *c = &conns[i];
    c->slot = i;
    c->seq = (unsigned)i << 20;
    c->message = malloc((size_t)size);
    c->buffer = malloc((size_t)size);
    if (churn) memset(c->message, 0x41 + i % 26, (size_t)size);
    open_connection(c);
  }

  int open = connections;
  int marked_counting = !marks, marked_done = !marks;
  struct epoll_event events[64];
  for (;;) {
    double t = now();
    if (!marked_counting && t >= count_from) {
      puts("{\"mark\":\"counting\"}");
      fflush(stdout);
      marked_counting = 1;
    }
    if (!marked_done && t >= deadline) {
      puts("{\"mark\":\"done\"}");
      fflush(stdout);
      marked_done = 1;
    }
    if (open == 0 && marked_done) break;
    /* Wake for the next mark even if no connection has anything to say (a negative timeout would wait forever). */
    double next = !marked_counting ? count_from : !marked_done ? deadline : t + 1;
    int timeout = next > t ? (int)((next - t) * 1000) + 1 : 0;
    int n = epoll_wait(epoll, events, 64, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("load-client: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      if (!on_ready(events[i].data.ptr, count_from, deadline)) open--;
    }
  }

  qsort(latencies, counted, sizeof *latencies, by_value);
  double p99 = counted == 0 ? 0 : latencies[counted * 99 / 100];
  printf("{\"requests\":%zu,\"seconds\":%g,\"p99\":%g}\n", counted, seconds, p99);
  return 0;
}
