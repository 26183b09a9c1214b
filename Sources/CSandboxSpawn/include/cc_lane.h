// The platform's side of a lane: the control socket and the wipe between jobs (see cc_lane.c, lane_protocol.h).
#ifndef CC_LANE_H
#define CC_LANE_H

#include <stddef.h>
#include "lane_protocol.h"

// A close-on-exec SOCK_SEQPACKET pair; 0, or -1 with errno set.
int cc_lane_socketpair(int fds[2]);
// Sends "run": the request (its strings in `strings`, `length` bytes) with the job's stdin, stdout and stderr;
// 0, or -1 with errno set.
int cc_lane_send_run(int fd, const struct lane_request *request, const char *strings, size_t length,
                     int stdin_fd, int stdout_fd, int stderr_fd);
// Reads one report without blocking: 1 when read, 0 when none is waiting, -1 at end of file or on a bad message.
int cc_lane_receive(int fd, struct lane_report *report);
// Empties a folder as root without following symlinks, and resets its owner, mode and extended attributes.
// 0 when everything went, -1 otherwise.
int cc_wipe_folder(const char *path, unsigned int uid, unsigned int gid, unsigned int mode);

/* Whether `path` (not followed if a link) has extended attributes: 1 yes, 0 no, -1 cannot tell. */
int cc_has_xattrs(const char *path);

#endif
