// The platform's side of a lane (see lane_protocol.h): the control socket, and wiping the lane's writable folders
// as root between jobs without ever following what a job left there.
#define _GNU_SOURCE
#include "cc_lane.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

int cc_lane_socketpair(int fds[2]) { return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds); }

int cc_lane_send_run(int fd, const struct lane_request *request, const char *strings, size_t length,
                     int stdin_fd, int stdout_fd, int stderr_fd) {
    if (sizeof *request + length > LANE_MAX_REQUEST) { errno = E2BIG; return -1; }
    int fds[3] = {stdin_fd, stdout_fd, stderr_fd};
    char control[CMSG_SPACE(sizeof fds)];
    memset(control, 0, sizeof control);
    struct iovec iov[2] = {{.iov_base = (void *)request, .iov_len = sizeof *request}, {.iov_base = (void *)strings, .iov_len = length}};
    struct msghdr message = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    ssize_t sent;
    do { sent = sendmsg(fd, &message, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    return sent == (ssize_t)(sizeof *request + length) ? 0 : -1;
}

int cc_lane_receive(int fd, struct lane_report *report) {
    ssize_t got;
    do { got = recv(fd, report, sizeof *report, MSG_DONTWAIT); } while (got < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof *report) return 1;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;  // end of file, or a message of the wrong size
}

// Removes everything inside the folder open at `dir` (closed here); depth-bounded.
static int wipe_at(int dir, int depth) {
    if (depth > 64) { close(dir); errno = ELOOP; return -1; }
    DIR *listing = fdopendir(dir);
    if (!listing) { close(dir); return -1; }
    int result = 0;
    struct dirent *entry;
    while ((entry = readdir(listing))) {
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        if (unlinkat(dirfd(listing), name, 0) == 0) continue;
        if (errno != EISDIR) { result = -1; continue; }
        int child = openat(dirfd(listing), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0 || wipe_at(child, depth + 1) != 0) result = -1;
        if (unlinkat(dirfd(listing), name, AT_REMOVEDIR) != 0) result = -1;
    }
    closedir(listing);
    return result;
}

int cc_wipe_folder(const char *path, unsigned int uid, unsigned int gid, unsigned int mode) {
    int dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) return -1;
    // The folder itself stays (it is a mount point inside the lane): give it back its owner and mode, and drop any
    // extended attribute a job put on it.
    int result = 0;
    if (fchown(dir, uid, gid) != 0 || fchmod(dir, mode) != 0) result = -1;
    char names[4096];
    ssize_t length = flistxattr(dir, names, sizeof names);
    if (length < 0 && errno != ENOTSUP) result = -1;
    for (ssize_t offset = 0; length > 0 && offset < length; offset += (ssize_t)strlen(names + offset) + 1) {
        if (fremovexattr(dir, names + offset) != 0) result = -1;
    }
    int listing = dup(dir);
    close(dir);
    if (listing < 0 || wipe_at(listing, 0) != 0) result = -1;
    return result;
}

int cc_has_xattrs(const char *path) {
    ssize_t length = llistxattr(path, NULL, 0);
    if (length < 0) return -1;
    return length > 0 ? 1 : 0;
}
