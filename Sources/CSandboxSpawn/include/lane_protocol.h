// What the platform and a lane's first process (campuscloud-lane, Sources/campuscloud-lane/main.c) say to each other
// over the lane's control socket (a SOCK_SEQPACKET pair; one message per request or report).
#ifndef CC_LANE_PROTOCOL_H
#define CC_LANE_PROTOCOL_H

#include <stdint.h>

#define LANE_PROTOCOL_VERSION 1
// The descriptor at which the lane's first process finds its end of the control socket.
#define LANE_CONTROL_FD 3
#define LANE_MAX_LIMITS 8
// The most a request may hold: its fixed part and the command and environment strings after it.
#define LANE_MAX_REQUEST 65536

enum { LANE_RUN = 1 };               // request: run the job; carries its stdin, stdout and stderr (SCM_RIGHTS)
enum { LANE_HELLO = 1, LANE_DONE = 2 };  // reports: the lane is up; the job is over and its processes are gone

struct lane_limit {
    int32_t resource;  // RLIMIT_*
    int32_t reserved;
    uint64_t soft;
    uint64_t hard;
};

// Followed in the same message by `argc` then `envc` NUL-terminated strings: the command (argv[0] is looked up in
// the environment's PATH) and the job's whole environment ("NAME=value").
struct lane_request {
    int32_t kind;
    int32_t argc;
    int32_t envc;
    int32_t limit_count;
    struct lane_limit limits[LANE_MAX_LIMITS];  // set in the job's process before exec (they can only be lowered)
};

struct lane_report {
    int32_t kind;
    int32_t version;
    int32_t started;      // the job's first process was forked
    int32_t wait_status;  // its wait status (exit code or signal)
    int64_t cpu_us;       // user + system CPU of every process of the job
    int64_t max_rss_kb;   // peak resident memory of the first process (and what it waited for)
    int32_t clean;        // 1: IPC objects and keyrings were cleared; 0: throw the lane away
    int32_t reserved;
};

#endif
