// The platform's sandbox around a job's command on the compute node (issue 24). Every job of a cluster runs as its one
// service account, so without more, a job could read and change other jobs' folders on the shared filesystem, read
// their scripts in slurmd's spool, and — through the node's munge socket (or slurmd's auth/slurm socket) — act as the
// account towards the scheduler (cancel other jobs, submit its own). When the node can give it, the job script runs
// the command in bwrap instead: its own user, pid, IPC, UTS and cgroup namespaces, and its own network namespace (only
// a loopback) unless the job may use the network; the node's filesystem read-only; the staging folder, slurmd's
// spool, munge's and slurmd's socket folders, the controller's state, the account's home, /run/user, /tmp and
// /var/tmp replaced by empty ones, with only the job's own work/ folder written through; no capabilities; no
// SLURM_JWT; and the platform's system-call filter (the same BPF program its own sandbox installs, carried in the
// script, for the architecture it was built for). Slurm's limits (cores, memory, time) still hold around all of it.
// What is hidden is a list of places, not a list of what is shown: another mount of the staging filesystem under a
// second path is not hidden (the README says so).
//
// Whether the sandbox is required is the cluster's setting: `required` (the default) ends a job on a node that cannot
// give it (status 112, and why, in its error log) before its command runs; `whenAvailable` runs it there in Slurm's
// limits alone, saying so in the log; `off` never uses it.
import Foundation

public struct SlurmSandbox: Equatable, Sendable {
    public enum Mode: String, CaseIterable, Codable, Sendable {
        case required, whenAvailable, off
    }

    public var mode: Mode
    /// The system-call filter's BPF program (bwrap --seccomp), built on the platform's host.
    public var filter: [UInt8]
    /// `uname -m` of the host the filter was built for: a node of another architecture has no usable sandbox.
    public var architecture: String
    /// Folders of the node a job must not see (each replaced by an empty one where it exists).
    public var hidden: [String]
    /// Whether the job may use the node's network (false: only a loopback of its own).
    public var network: Bool

    public init(mode: Mode, filter: [UInt8], architecture: String, hidden: [String], network: Bool = false) {
        (self.mode, self.filter, self.architecture, self.hidden, self.network) = (mode, filter, architecture, hidden, network)
    }

    /// The exit status of a job that needed the sandbox and had none (before its command ran).
    public static let unavailableStatus = 112

    /// The folders a job must not see, from the cluster's slurm.conf (its text, when the platform can read it): munge's
    /// socket folder (the usual ones, and those `AuthInfo=socket=` and `AccountingStoragePass` name), slurmd's spool (every job's script) and the
    /// controller's state, wherever the file puts them.
    public static func hiddenFolders(slurmConf text: String?) -> [String] {
        var folders = ["/run/munge", "/var/run/munge", "/var/spool/slurmd", "/var/spool/slurm", "/var/lib/slurm"]
        let settings = SlurmConfiguration.settings(text ?? "")
        if let auth = settings["authinfo"], let socket = auth.split(separator: ",").first(where: { $0.lowercased().hasPrefix("socket=") }) {
            let path = String(socket.dropFirst("socket=".count))
            if path.hasPrefix("/") { folders.append((path as NSString).deletingLastPathComponent) }
        }
        // With slurmdbd, a munge socket of its own may be named for accounting (AccountingStoragePass=/path).
        if let pass = settings["accountingstoragepass"], pass.hasPrefix("/") { folders.append((pass as NSString).deletingLastPathComponent) }
        for key in ["slurmdspooldir", "statesavelocation"] {
            // %n and %h in a spool folder name the node; the folder above them is hidden then.
            if var path = settings[key], path.hasPrefix("/") {
                while path.contains("%"), path != "/" { path = (path as NSString).deletingLastPathComponent }
                if path != "/" { folders.append(path) }
            }
        }
        var seen = Set<String>()
        return folders.filter { seen.insert($0).inserted }
    }

    /// The lines of the job script that run `command` (already shell-quoted) in work/ — in the sandbox when the mode
    /// and the node allow. `staging` is the cluster's staging folder, `work` the job's own folder in it.
    ///
    /// Every folder bwrap mounts over is first resolved on the node (`readlink -f`): bwrap builds its mount points in
    /// a root of its own, where an absolute link such as /var/run -> /run leads nowhere. The whole sandbox is then
    /// tried once (`true` in it) before the command runs in it, so a node that cannot give it is known before, not
    /// by a failed job.
    func lines(command: String, staging: String, work: String) -> [String] {
        let plain = "exec /bin/sh -c \(command)"
        guard mode != .off else { return [plain] }
        let q = SlurmStaging.shellQuoted
        let encoded = Data(filter).base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])
        let status = Self.unavailableStatus
        var lines = [
            "# The platform's sandbox, when this node can give it (see the platform's Sources/Slurm/SlurmSandbox.swift).",
            "why=\"no bwrap (bubblewrap)\"",
            "if command -v bwrap >/dev/null 2>&1 && [ \"$(uname -m)\" = \(q(architecture)) ] && command -v base64 >/dev/null 2>&1; then",
            "  filter=$(mktemp) || exit \(status)",
            "  base64 -d > \"$filter\" <<'CAMPUSCLOUD_FILTER' || exit \(status)",
            encoded.trimmingCharacters(in: .newlines),
            "CAMPUSCLOUD_FILTER",
            "  home=$(getent passwd \"$(id -u)\" | cut -d: -f6) && [ -n \"$home\" ] || exit \(status)",
            "  staging=$(readlink -f -- \(q(staging))) && work=$(readlink -f -- \(q(work))) || exit \(status)",
            "  set -- --unshare-user --unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try \(network ? "" : "--unshare-net ")"
                + "--die-with-parent --new-session --cap-drop ALL \\",
            "    --unsetenv SLURM_JWT --unsetenv SLURM_SACK_SOCKET --ro-bind / / --proc /proc --dev /dev",
            // GPUs (and other accelerators) the scheduler gave the job stay reachable; its cgroup still decides which.
            "  for device in /dev/nvidia* /dev/nvidia-caps /dev/dri /dev/kfd; do",
            "    [ -e \"$device\" ] && set -- \"$@\" --dev-bind \"$device\" \"$device\"",
            "  done",
            // Each hidden folder by its real path, once; the job's own folder is bound back last.
            "  seen=' '",
            "  for folder in /tmp /var/tmp \"$home\" /run/user /run/slurm /run/slurm-* \(hidden.map(q).joined(separator: " ")) \"$staging\"; do",
            "    real=$(readlink -f -- \"$folder\" 2>/dev/null) || continue",
            "    case \"$real\" in /?*) ;; *) continue ;; esac",
            "    [ -d \"$real\" ] || continue",
            "    case \"$seen\" in *\" $real \"*) continue ;; esac",
            "    seen=\"$seen$real \"",
            "    set -- \"$@\" --tmpfs \"$real\"",
            "  done",
            "  set -- \"$@\" --bind \"$work\" \"$work\" --chdir \"$work\" --setenv HOME \"$work\"",
            "  if why=$(bwrap \"$@\" --seccomp 8 -- true 8< \"$filter\" 2>&1); then",
            "    exec 9< \"$filter\"; rm -f \"$filter\"",
            "    echo \"campuscloud: the command runs in the platform's sandbox (bwrap) on $(hostname)\" >&2",
            "    exec bwrap \"$@\" --seccomp 9 -- /bin/sh -c \(command)",
            "  fi",
            "  rm -f \"$filter\"",
            "  why=\"bwrap could not make the sandbox: $(printf %s \"$why\" | head -c 300)\"",
            "elif command -v bwrap >/dev/null 2>&1; then",
            "  why=\"its system-call filter is for \(architecture) and the node is $(uname -m), or base64 is missing\"",
            "fi",
        ]
        switch mode {
        case .required:
            lines += ["echo \"campuscloud: this cluster runs jobs only in the platform's sandbox, and node $(hostname) cannot give it ($why); "
                      + "the command did not run\" >&2",
                      "exit \(status)"]
        case .whenAvailable:
            lines += ["echo \"campuscloud: node $(hostname) cannot give the platform's sandbox ($why): the command runs within Slurm's limits alone\" >&2",
                      plain]
        case .off:
            break
        }
        return lines
    }
}

/// The settings of a slurm.conf, by lower-cased key (Slurm's keys are case-insensitive); the last of a key wins.
public enum SlurmConfiguration {
    public static func settings(_ text: String) -> [String: String] {
        var settings: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            // A line may hold several Key=Value pairs (node and partition lines); only plain settings are wanted.
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard let equals = trimmed.firstIndex(of: "=") else { continue }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, !key.contains(" ") else { continue }
            settings[key] = value.split(separator: " ").first.map(String.init) ?? ""
        }
        return settings
    }
}
