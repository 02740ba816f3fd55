/* A native JACK client that does a fixed amount of memory-touching work in every period.

   bench/live.py's platform reference: what this machine does to a client with no
   Python, no GIL and no allocation whose callback reads a working set about as
   large as a many-track session's (plug-in states, buffers, code) for a given
   share of the period. jack_cpu, the other reference, burns CPU on a few
   registers, which the machine's neighbours hardly disturb; memory-bound work
   is what slows down in bursts on a shared host.

   Built by bench/live.py (no JACK headers needed: the few functions are
   declared here and taken from libjack.so.0):

       cc -O2 -o native_reference bench/native_reference.c -l:libjack.so.0

       native_reference SECONDS SHARE [MEGABYTES]

   SHARE is the fraction of the period to spend working (0.3: 30%). The work is
   calibrated twice: roughly before the client activates, then in the running
   client over its first 2 s (6 steps of 125 callbacks towards a median of
   SHARE), since the machine runs the same code at another speed under the
   server and the load. It prints "measuring" when that is done, and one line of
   JSON at the end: callbacks since then, how many took longer than the period,
   duration p50/p99/max as a share of the period, and the xruns the server
   reported to the client since then.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct _jack_client jack_client_t;
typedef struct _jack_port jack_port_t;
typedef uint32_t jack_nframes_t;
extern jack_client_t *jack_client_open(const char *name, int options, int *status, ...);
extern int jack_set_process_callback(jack_client_t *, int (*)(jack_nframes_t, void *), void *);
extern int jack_set_xrun_callback(jack_client_t *, int (*)(void *), void *);
extern jack_port_t *jack_port_register(jack_client_t *, const char *, const char *, unsigned long, unsigned long);
extern void *jack_port_get_buffer(jack_port_t *, jack_nframes_t);
extern jack_nframes_t jack_get_sample_rate(jack_client_t *);
extern jack_nframes_t jack_get_buffer_size(jack_client_t *);
extern int jack_activate(jack_client_t *);
extern int jack_deactivate(jack_client_t *);
extern int jack_client_close(jack_client_t *);

#define OUTPUT_PORT 2
#define STRIDE 16 /* floats: one read per 64-byte cache line */

static float *memory;
static size_t floats;
static long units;                 /* passes of the work per callback */
static double *durations;          /* seconds, one per callback, preallocated */
static long capacity, callbacks;
static volatile long xruns;
static volatile float sink;
static jack_port_t *out_port;
static double period, share;
enum { STEP = 125, STEPS = 6 };
static volatile int calibrating = STEPS; /* steps left; the main thread waits for 0 */
static double step_durations[STEP];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* One pass: a read of every cache line of a slice of the working set, in a scattered order. */
static void work(long passes) {
    static size_t cursor;
    float acc = 0.0f;
    for (long p = 0; p < passes; p++) {
        for (int i = 0; i < 4096; i++) {
            cursor = (cursor + 7919 * STRIDE) % floats;
            acc += memory[cursor] * 0.999f;
        }
    }
    sink = acc;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* During calibration: every STEP callbacks, scale the work so that their median takes the share. */
static void calibrate(double took) {
    static int seen;
    step_durations[seen++] = took;
    if (seen < STEP) return;
    seen = 0;
    qsort(step_durations, STEP, sizeof(double), by_value);
    long scaled = (long)(units * share * period / step_durations[STEP / 2] + 0.5);
    units = scaled < 1 ? 1 : scaled;
    if (--calibrating == 0) {
        callbacks = 0;
        xruns = 0;
    }
}

static int process(jack_nframes_t frames, void *arg) {
    (void)arg;
    double start = now();
    work(units);
    float *out = jack_port_get_buffer(out_port, frames);
    memset(out, 0, frames * sizeof(float));
    double took = now() - start;
    if (calibrating) {
        calibrate(took);
        return 0;
    }
    if (callbacks < capacity) durations[callbacks] = took;
    callbacks++;
    return 0;
}

static int on_xrun(void *arg) {
    (void)arg;
    xruns++;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SECONDS SHARE [MEGABYTES]\n", argv[0]);
        return 2;
    }
    double seconds = atof(argv[1]);
    share = atof(argv[2]);
    floats = (size_t)((argc > 3 ? atof(argv[3]) : 8.0) * 1024 * 1024 / sizeof(float));
    memory = malloc(floats * sizeof(float));
    for (size_t i = 0; i < floats; i++) memory[i] = (float)(i % 1000) * 1e-3f;

    jack_client_t *client = jack_client_open("native_reference", 1 /* JackNoStartServer */, NULL);
    if (client == NULL) {
        fprintf(stderr, "native_reference: no JACK server (JACK_DEFAULT_SERVER=%s)\n",
                getenv("JACK_DEFAULT_SERVER") ? getenv("JACK_DEFAULT_SERVER") : "default");
        return 1;
    }
    period = (double)jack_get_buffer_size(client) / jack_get_sample_rate(client);

    /* Calibrate: the median time of one pass over many tries, then the passes that fill the share. */
    enum { TRIES = 301 };
    double tries[TRIES];
    for (int i = 0; i < TRIES; i++) {
        double t = now();
        work(8);
        tries[i] = (now() - t) / 8;
    }
    qsort(tries, TRIES, sizeof(double), by_value);
    units = (long)(share * period / tries[TRIES / 2] + 0.5);
    if (units < 1) units = 1;

    capacity = (long)(seconds / period) + 1000;
    durations = calloc(capacity, sizeof(double));
    out_port = jack_port_register(client, "out", "32 bit float mono audio", OUTPUT_PORT, 0);
    jack_set_process_callback(client, process, NULL);
    jack_set_xrun_callback(client, on_xrun, NULL);
    if (jack_activate(client) != 0) {
        fprintf(stderr, "native_reference: the server refused to activate the client\n");
        return 1;
    }
    while (calibrating) usleep(10000);
    printf("measuring\n");
    fflush(stdout);
    usleep((useconds_t)(seconds * 1e6));
    jack_deactivate(client);
    jack_client_close(client);

    long n = callbacks < capacity ? callbacks : capacity, over = 0;
    for (long i = 0; i < n; i++) over += durations[i] > period;
    qsort(durations, n, sizeof(double), by_value);
    printf("{\"callbacks\": %ld, \"over_period\": %ld, \"xruns\": %ld, \"share_p50\": %.3f, \"share_p99\": %.3f, "
           "\"share_max\": %.3f, \"megabytes\": %.1f, \"passes\": %ld}\n",
           n, over, xruns, n ? durations[n / 2] / period : 0.0, n ? durations[(long)(n * 0.99)] / period : 0.0,
           n ? durations[n - 1] / period : 0.0, floats * sizeof(float) / 1048576.0, units);
    return 0;
}
