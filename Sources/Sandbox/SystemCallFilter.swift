// The system-call filter every sandboxed job runs under: bwrap installs it (`--seccomp`, the descriptor at
// CC_SPAWN_SECCOMP_FD) just before it execs the job or a lane's first process, after its own set-up, and nothing the
// job starts can remove it. It refuses what a job never needs and what has been a steady source of kernel holes:
// io_uring, keyrings, userfaultfd, perf events, bpf, kexec, every mount call, new namespaces (unshare, setns, clone
// with CLONE_NEW*; clone3 answers ENOSYS so libc falls back to clone), and the TIOCSTI/TIOCLINUX ioctls. The BPF
// program is built by libseccomp (CSeccomp/cc_seccomp.c) for x86-64, i386 and x32 alike.
import CSeccomp
import Glibc

public enum SystemCallFilter {
    /// A fresh descriptor holding the program, for one bwrap (it reads it to the end), or -1 with errno set.
    static func descriptor() -> Int32 { cc_seccomp_memfd(0) }

    /// Runs `body` with a fresh descriptor (-1 when the program could not be made: bwrap then refuses to start, so a
    /// job never runs unfiltered) and closes it after.
    static func withDescriptor<R>(_ body: (Int32) -> R) -> R {
        let filter = descriptor()
        defer { if filter >= 0 { close(filter) } }
        return body(filter)
    }

    /// Why the filter cannot be made here, or nil (checked when the sandbox starts: no filter, no jobs).
    static func problem() -> String? {
        let filter = descriptor()
        guard filter >= 0 else { return "the sandbox's system-call filter could not be built (\(String(cString: strerror(errno))))" }
        close(filter)
        return nil
    }

    /// The program itself, for a sandbox another machine starts (a Slurm job's bwrap reads it from its script); nil
    /// when it cannot be built.
    public static func program() -> [UInt8]? {
        withDescriptor { filter -> [UInt8]? in
            guard filter >= 0 else { return nil }
            var bytes: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = read(filter, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count >= 0 else { return nil }
                if count == 0 { return bytes }
                bytes += buffer.prefix(count)
            }
        }
    }

    /// The machine the program is built for (`uname -m`: x86_64 covers its i386 and x32 calls as well).
    public static var architecture: String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
