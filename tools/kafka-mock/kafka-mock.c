/*
 * kafka-mock: serve librdkafka's in-process mock Kafka cluster on loopback so
 * that tests (kafkajs) have a Kafka wire-protocol endpoint without a real
 * Kafka/ZooKeeper/JVM.
 *
 * Usage: kafka-mock [BROKERS] [TOPIC:PARTITIONS ...]
 *   BROKERS            number of mock brokers (default 1)
 *   TOPIC:PARTITIONS   topics to pre-create (others auto-create with the
 *                      mock's default of 4 partitions on first metadata request)
 *
 * Prints the bootstrap servers ("127.0.0.1:PORT[,127.0.0.1:PORT...]") as one
 * line on stdout, then serves until SIGTERM/SIGINT or EOF on stdin, then
 * destroys the cluster and exits 0. Diagnostics go to stderr only, so stdout
 * carries exactly that one line.
 *
 * Build: gcc -O2 -o kafka-mock kafka-mock.c $(pkg-config --cflags --libs rdkafka)
 *
 * See rdkafka_mock.h: this is an experimental librdkafka API. Known limits of
 * the mock with kafkajs, and the client settings that keep it quick, are in
 * test/e2e/support/kafka.ts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s [BROKERS] [TOPIC:PARTITIONS ...]\n", argv0);
}

/* Parses a positive int in [1, max]; returns -1 when malformed. */
static int parse_count(const char *s, int max) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max) return -1;
  return (int)v;
}

int main(int argc, char **argv) {
  int broker_cnt = 1;
  int first_topic_arg = 1;
  char errstr[512];

  if (argc > 1 && strchr(argv[1], ':') == NULL) {
    broker_cnt = parse_count(argv[1], 64);
    if (broker_cnt < 0) {
      fprintf(stderr, "kafka-mock: invalid broker count '%s'\n", argv[1]);
      usage(argv[0]);
      return 2;
    }
    first_topic_arg = 2;
  }

  /* Block the termination signals *before* librdkafka starts its threads:
   * new threads inherit the signal mask, so the signals can only be consumed
   * through the signalfd below, by this thread, instead of killing the
   * process (or landing on a broker thread) mid-operation. */
  sigset_t term_sigs;
  sigemptyset(&term_sigs);
  sigaddset(&term_sigs, SIGTERM);
  sigaddset(&term_sigs, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &term_sigs, NULL) != 0) {
    perror("kafka-mock: pthread_sigmask");
    return 1;
  }
  int sig_fd = signalfd(-1, &term_sigs, SFD_CLOEXEC);
  if (sig_fd < 0) {
    perror("kafka-mock: signalfd");
    return 1;
  }
  /* A reader of our stdout may go away (e.g. the launching shell died);
   * report EPIPE as an error instead of dying silently on SIGPIPE. */
  signal(SIGPIPE, SIG_IGN);

  /* The mock cluster is hosted by an ordinary client handle (it keeps its
   * bookkeeping and broker threads there), so create a producer that is never
   * used to produce. No bootstrap.servers: it must not connect anywhere. */
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* Keep librdkafka's own logging (to stderr) to warnings and worse. */
  if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "kafka-mock: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == NULL) {
    /* rd_kafka_new only takes ownership of conf on success. */
    fprintf(stderr, "kafka-mock: rd_kafka_new: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }

  rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(rk, broker_cnt);
  if (mcluster == NULL) {
    fprintf(stderr, "kafka-mock: failed to create mock cluster\n");
    rd_kafka_destroy(rk);
    return 1;
  }

  int rc = 0;
  /* The mock does not implement the CreateTopics admin API, so topics that
   * need a specific partition count must be created here. */
  for (int i = first_topic_arg; i < argc; i++) {
    char *spec = argv[i];
    char *colon = strrchr(spec, ':');
    int partitions = colon != NULL ? parse_count(colon + 1, 100000) : -1;
    if (colon == NULL || colon == spec || partitions < 0) {
      fprintf(stderr, "kafka-mock: invalid topic spec '%s' (want TOPIC:PARTITIONS)\n", spec);
      usage(argv[0]);
      rc = 2;
      goto out;
    }
    *colon = '\0';
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, spec, partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fprintf(stderr, "kafka-mock: creating topic '%s': %s\n", spec, rd_kafka_err2str(err));
      rc = 1;
      goto out;
    }
  }

  /* The one line the launcher waits for; flush because stdout is a pipe or
   * file (fully buffered), not a terminal. */
  if (printf("%s\n", rd_kafka_mock_cluster_bootstraps(mcluster)) < 0 || fflush(stdout) != 0) {
    perror("kafka-mock: writing bootstrap servers");
    rc = 1;
    goto out;
  }

  /* Serve until a termination signal or EOF on stdin. Watching stdin lets the
   * launcher hold a pipe open as a lifeline: if it dies without cleaning up
   * (even SIGKILL), the pipe closes and this process exits on its own. */
  struct pollfd fds[2] = {
      {.fd = sig_fd, .events = POLLIN},
      {.fd = STDIN_FILENO, .events = POLLIN},
  };
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      perror("kafka-mock: poll");
      rc = 1;
      break;
    }
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        fprintf(stderr, "kafka-mock: received %s, shutting down\n", strsignal((int)si.ssi_signo));
      break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
      /* Input is ignored; only EOF (or a closed/invalid stdin) matters. */
      char buf[4096];
      ssize_t n = (fds[1].revents & POLLNVAL) ? 0 : read(STDIN_FILENO, buf, sizeof(buf));
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
    }
  }

out:
  /* Destroy the cluster before the handle that hosts it. */
  rd_kafka_mock_cluster_destroy(mcluster);
  rd_kafka_destroy(rk);
  close(sig_fd);
  return rc;
}
