/* How long a cache line takes to go from one core to another and back.

   Two threads, pinned to CPUs 0 and 1, hand a counter back and forth through one cache line;
   every hand-over moves the line to the other core. On the 2-core Zen 4 VM this reads 50-130 ns
   a round trip most of the time and 315-390 ns in its slow stretches, in which sparsec with two
   threads runs 1.3-1.5x slower (with one thread it does not change): a thread that reads what
   the other wrote pays that latency per cache line.

       gcc -O2 -pthread benchmarks/core_latency.c -o /tmp/core_latency && /tmp/core_latency
*/
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Alignas(64) atomic_long turn;
static long rounds = 200000;

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *answer(void *unused) {
    (void)unused;
    pin(1);
    for (long i = 0; i < rounds; i++) {
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 1) {
        }
        atomic_store_explicit(&turn, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) rounds = atol(argv[1]);
    pin(0);
    pthread_t other;
    pthread_create(&other, NULL, answer, NULL);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < rounds; i++) {
        atomic_store_explicit(&turn, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 2) {
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    pthread_join(other, NULL);
    double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
    printf("%.0f ns a round trip between CPU 0 and CPU 1\n", ns / rounds);
    return 0;
}
