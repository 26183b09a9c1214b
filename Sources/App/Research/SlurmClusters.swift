// The Slurm clusters a platform sends research jobs to (administrators register them), and which projects use one
// (programme managers choose, per project). Everything a cluster's settings name is checked when it is registered:
// the service account exists and is not root, the folders exist, the limits are sane.
import Fluent
import Foundation
import Sandbox
import Slurm
import Vapor

struct SlurmClusterInput: CheckedInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, slurmConf, partition, account, serviceAccount, stagingFolder, completionLog, timeZone, maxCores, maxMemoryMB, maxGPUs, maxMinutes
        case pollSeconds, sandbox, rest
    }
    typealias Fields = CodingKeys
    var name: String?
    var slurmConf: String?
    var partition: String?
    var account: String?
    var serviceAccount: String?
    var stagingFolder: String?
    var completionLog: String?
    /// The zone the cluster writes times in (an IANA name); default: this host's.
    var timeZone: String?
    var maxCores: Int?
    var maxMemoryMB: Int?
    var maxGPUs: Int?
    var maxMinutes: Int?
    var pollSeconds: Int?
    /// required (default), whenAvailable or off: whether jobs run in the platform's sandbox on the node as well.
    var sandbox: String?
    /// To reach the cluster through slurmrestd (leave out: the Slurm commands on this host).
    var rest: SlurmRESTSettings?
}

/// How the platform reaches a cluster through slurmrestd: its address, and the environment variable (of the platform's
/// processes) that holds the service account's JWT. The token itself is never stored. The two go together, so they are
/// one value: the API document then says everything about them, and no well-formed request is refused for its shape.
struct SlurmRESTSettings: Content, Equatable {
    var url: String
    var tokenVariable: String

    /// `http(s)://host[:port]`: a host name or IPv4 address, a port from 1 to 65535, no path.
    static let urlPattern = #"^https?://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"#
        + #"(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?/?$"#
    static let tokenVariablePattern = #"^[A-Z_][A-Z0-9_]{0,63}$"#
    static let schema = JSONSchema.object(["url": .string(maxLength: 300, pattern: urlPattern), "tokenVariable": .string(maxLength: 64, pattern: tokenVariablePattern)],
                                          required: ["url", "tokenVariable"])
}

extension SlurmClusterInput: APIInput {
    static let schema = JSONSchema.object([
        "name": .text(max: 100), "slurmConf": .string(maxLength: 500, pattern: "^$|^/"), "partition": .string(pattern: "^[A-Za-z0-9_.-]{1,64}$"),
        "account": .string(pattern: "^$|^[A-Za-z0-9_.-]{1,64}$"), "serviceAccount": .string(maxLength: 32),
        "stagingFolder": .string(maxLength: 500, pattern: "^/"), "completionLog": .string(maxLength: 500, pattern: "^$|^/"),
        "timeZone": .string(maxLength: 64), "maxCores": .integer(minimum: 1, maximum: SlurmClusters.coresCap), "maxMemoryMB": .integer(minimum: 64, maximum: SlurmClusters.memoryCap),
        "maxGPUs": .integer(minimum: 0, maximum: SlurmClusters.gpusCap), "maxMinutes": .integer(minimum: 1, maximum: SlurmClusters.minutesCap),
        "pollSeconds": .integer(minimum: 1, maximum: 300), "sandbox": .choice(SlurmSandbox.Mode.self),
        "rest": SlurmRESTSettings.schema,
    ], required: ["name", "partition", "stagingFolder", "maxCores", "maxMemoryMB", "maxMinutes"])
}

struct SlurmClusterDTO: Content {
    var id: UUID
    var name: String
    var slurmConf: String?
    var partition: String
    var account: String?
    var serviceAccount: String?
    var stagingFolder: String
    /// nil: ended jobs are read from Slurm's accounting (slurmdbd).
    var completionLog: String?
    var timeZone: String
    var maxCores: Int
    var maxMemoryMB: Int
    var maxGPUs: Int
    var maxMinutes: Int
    var pollSeconds: Int
    var sandbox: String
    var rest: SlurmRESTSettings?
}

extension SlurmClusterDTO: APIBody {
    static let schemaName = "SlurmCluster"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "name": .string(), "slurmConf": .string(), "partition": .string(), "account": .string(), "serviceAccount": .string(),
        "stagingFolder": .string(), "completionLog": .string(), "timeZone": .string(), "maxCores": .integer(), "maxMemoryMB": .integer(), "maxGPUs": .integer(),
        "maxMinutes": .integer(), "pollSeconds": .integer(), "sandbox": .choice(SlurmSandbox.Mode.self),
        "rest": SlurmRESTSettings.schema,
    ], required: ["id", "name", "partition", "stagingFolder", "timeZone", "maxCores", "maxMemoryMB", "maxGPUs", "maxMinutes", "pollSeconds",
                  "sandbox"])
    static let samples = [SlurmClusterDTO(
        id: Sample.id, name: "hpc", slurmConf: "/etc/slurm/slurm.conf", partition: "campus", account: "campuscloud", serviceAccount: "campuscloud-jobs",
        stagingFolder: "/shared/campuscloud", completionLog: "/var/log/slurm/jobcomp.log", timeZone: "Europe/Zurich", maxCores: 32, maxMemoryMB: 128_000, maxGPUs: 4,
        maxMinutes: 2_880, pollSeconds: 5, sandbox: "required",
        rest: SlurmRESTSettings(url: "https://slurm.example.edu:6820", tokenVariable: "CAMPUSCLOUD_SLURM_JWT"))]
}

/// Which cluster a project's jobs go to: a cluster's id, or null for the platform's own workers.
struct ProjectComputeInput: APIInput, Content {
    enum CodingKeys: String, CodingKey, CaseIterable { case slurmCluster }
    typealias Fields = CodingKeys
    var slurmCluster: UUID?
    static let schema = JSONSchema.object(["slurmCluster": .string(format: "uuid")], required: [])
}

enum SlurmClusters {
    static let coresCap = 4096, memoryCap = 16 << 20, minutesCap = 60 * 24 * 31, gpusCap = 64

    /// Problems with the input itself are 422 (the API document describes them); settings that are well formed but do
    /// not fit this host as it is now (no such user or folder, root) are 409.
    static func add(_ input: SlurmClusterInput, on db: any Database, at now: Date) async throws -> SlurmCluster {
        try await save(input, into: SlurmCluster(), on: db, at: now)
    }

    /// Replaces a cluster's settings with `input`, checked as when it was added. While jobs of it are queued or
    /// running, what following them depends on — the slurm.conf, the service account, the staging folder and the
    /// completion log — stays as it is (409); limits, prices of new jobs, polling and the sandbox change at once for
    /// jobs submitted from then on.
    static func change(_ cluster: SlurmCluster, to input: SlurmClusterInput, on db: any Database, at now: Date) async throws -> SlurmCluster {
        try await save(input, into: cluster, on: db, at: now)
    }

    /// Removes a cluster no project sends its jobs to and with no job queued or running (409 otherwise). Its ended
    /// jobs keep their results, shown as run on "a removed cluster".
    static func remove(_ cluster: SlurmCluster, on db: any Database) async throws {
        let id = try cluster.requireID()
        let projects = try await ResearchProject.query(on: db).filter(\.$slurmClusterID == id).count()
        let live = try await liveJobs(id, on: db)
        var problems: [String] = []
        if projects > 0 { problems.append("\(projects) project(s) send their jobs to \(cluster.name); a programme manager sends them elsewhere first.") }
        if live > 0 { problems.append("\(live) job(s) are queued or running on \(cluster.name); they end (or are cancelled) first.") }
        if !problems.isEmpty { throw InputRejection.conflict(problems) }
        try await cluster.delete(on: db)
    }

    static func liveJobs(_ clusterID: UUID, on db: any Database) async throws -> Int {
        try await ResearchJob.query(on: db).filter(\.$slurmClusterID == clusterID).filter(\.$status ~~ [.queued, .running]).count()
    }

    private static func save(_ input: SlurmClusterInput, into cluster: SlurmCluster, on db: any Database, at now: Date) async throws -> SlurmCluster {
        var checks = InputChecks(), host = InputChecks()
        let name = checks.text(input.name, "name", max: 100)
        let identifier = #"^[A-Za-z0-9_.-]{1,64}$"#
        let partition = checks.text(input.partition, "partition", max: 64)
        if let partition, partition.range(of: identifier, options: .regularExpression) == nil { checks.add("partition is a Slurm partition's name (letters, digits, _ . -).") }
        let account = checks.text(input.account, "account", max: 64, required: false).flatMap { $0.isEmpty ? nil : $0 }
        if let account, account.range(of: identifier, options: .regularExpression) == nil { checks.add("account is a Slurm account's name (letters, digits, _ . -).") }
        let conf = checks.text(input.slurmConf, "slurmConf", max: 500, required: false).flatMap { $0.isEmpty ? nil : $0 }
        if let conf, !conf.hasPrefix("/") { checks.add("slurmConf is the absolute path of the cluster's slurm.conf.") }
        if let conf, conf.hasPrefix("/"), !FileManager.default.isReadableFile(atPath: conf) { host.add("slurmConf: this host cannot read \(conf).") }
        let service = checks.text(input.serviceAccount, "serviceAccount", max: 32, required: false).flatMap { $0.isEmpty ? nil : $0 }
        var serviceUser: SlurmServiceAccount?
        if let service {
            serviceUser = SlurmServiceAccount.named(service)
            if let found = serviceUser {
                if found.uid == 0 || found.gid == 0 { host.add("serviceAccount must not be root, nor in root's group: jobs run as that account.") }
                if geteuid() != 0, found.uid != geteuid() {
                    host.add("serviceAccount: the platform does not run as root, so it can only submit jobs as its own user; leave serviceAccount out.")
                }
            } else {
                host.add("serviceAccount: there is no user \(service) on this host.")
            }
        } else if geteuid() == 0 {
            host.add("serviceAccount is needed: the platform runs as root, and jobs it submitted itself would run as root on the cluster.")
        }
        let staging = checks.text(input.stagingFolder, "stagingFolder", max: 500)
        var info = stat()
        if let staging {
            if !staging.hasPrefix("/") {
                checks.add("stagingFolder is the absolute path of an existing folder on the cluster's shared filesystem.")
            } else if stat(staging, &info) != 0 || (info.st_mode & S_IFMT) != S_IFDIR {
                host.add("stagingFolder: there is no folder \(staging) on this host.")
            } else if let serviceUser, geteuid() == 0, info.st_uid == serviceUser.uid || info.st_mode & 0o022 != 0 {
                // Each job's folder in it is made by the platform and handed over whole; the account must not be able
                // to put anything of its own in the staging folder itself.
                host.add("stagingFolder must belong to root (or another account than the service account) and not be writable by group or others.")
            }
        }
        // Without a completion log, ended jobs are read from Slurm's accounting: the cluster must keep it.
        let log = checks.text(input.completionLog, "completionLog", max: 500, required: false).flatMap { $0.isEmpty ? nil : $0 }
        if let log, !log.hasPrefix("/") { checks.add("completionLog is the absolute path of the cluster's job completion log (JobCompLoc).") }
        if let log, log.hasPrefix("/"), !FileManager.default.fileExists(atPath: (log as NSString).deletingLastPathComponent) {
            host.add("completionLog: there is no folder \((log as NSString).deletingLastPathComponent) on this host.")
        }
        if log == nil {
            let confText = try? String(contentsOfFile: conf ?? "/etc/slurm/slurm.conf", encoding: .utf8)
            let storage = confText.map { SlurmConfiguration.settings($0)["accountingstoragetype"] ?? "accounting_storage/none" }
            if let storage, storage.lowercased() != "accounting_storage/slurmdbd" {
                host.add("completionLog is needed: the cluster keeps no accounting (AccountingStorageType=\(storage) in its slurm.conf), "
                         + "so ended jobs can only be read from its job completion log.")
            }
            if input.rest == nil, !SlurmCommand.basePath.split(separator: ":").contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/sacct") }) {
                host.add("completionLog is needed, or sacct on this host (Debian slurm-client): ended jobs are read from Slurm's accounting without it.")
            }
        }
        let zone = checks.text(input.timeZone, "timeZone", max: 64, required: false).flatMap { $0.isEmpty ? nil : $0 } ?? TimeZone.current.identifier
        if TimeZone(identifier: zone) == nil { host.add("timeZone is an IANA zone name such as Europe/Zurich (the zone the cluster's controller writes times in).") }
        func bounded(_ value: Int?, _ label: String, _ range: ClosedRange<Int>, default fallback: Int? = nil) -> Int? {
            guard let value = value ?? fallback else { checks.add("\(label) is missing."); return nil }
            guard range.contains(value) else { checks.add("\(label) is a whole number from \(range.lowerBound) to \(range.upperBound)."); return nil }
            return value
        }
        let cores = bounded(input.maxCores, "maxCores", 1...coresCap)
        let memory = bounded(input.maxMemoryMB, "maxMemoryMB", 64...memoryCap)
        let gpus = bounded(input.maxGPUs, "maxGPUs", 0...gpusCap, default: 0)
        let minutes = bounded(input.maxMinutes, "maxMinutes", 1...minutesCap)
        let poll = bounded(input.pollSeconds, "pollSeconds", 1...300, default: 5)
        let sandboxName = input.sandbox?.trimmingCharacters(in: .whitespaces) ?? ""
        let sandbox = sandboxName.isEmpty ? .required : SlurmSandbox.Mode.allCases.first { $0.rawValue.lowercased() == sandboxName.lowercased() }
        if sandbox == nil { checks.add("sandbox is one of \(SlurmSandbox.Mode.allCases.map(\.rawValue).joined(separator: ", ")).") }
        if sandbox != nil && sandbox != .off, SystemCallFilter.program() == nil {
            host.add("sandbox: this host cannot build the sandbox's system-call filter (libseccomp); choose off, or install libseccomp2.")
        }
        var rest: SlurmRESTSettings?
        if let given = input.rest {
            let url = checks.text(given.url, "rest.url", max: 300)
            let variable = checks.text(given.tokenVariable, "rest.tokenVariable", max: 64)
            if let url, url.range(of: SlurmRESTSettings.urlPattern, options: .regularExpression) == nil {
                checks.add("rest.url is slurmrestd's address: http(s)://host:port (a host name or IPv4 address), no path.")
            }
            if let variable {
                if variable.range(of: SlurmRESTSettings.tokenVariablePattern, options: .regularExpression) == nil {
                    checks.add("rest.tokenVariable is an environment variable's name (capitals, digits, _).")
                } else if (ProcessInfo.processInfo.environment[variable] ?? "").isEmpty {
                    host.add("rest.tokenVariable: \(variable) is not set for the platform (scontrol token username=<the service account> on the cluster gives one).")
                }
            }
            if let url, let variable { rest = SlurmRESTSettings(url: url.hasSuffix("/") ? String(url.dropLast()) : url, tokenVariable: variable) }
        }
        // The sandbox hides what the cluster's slurm.conf places (munge's socket, slurmd's spool): it must be read.
        if sandbox != nil && sandbox != .off, !FileManager.default.isReadableFile(atPath: conf ?? "/etc/slurm/slurm.conf") {
            host.add("sandbox: this host cannot read \(conf ?? "/etc/slurm/slurm.conf"), which says where munge's socket and slurmd's spool are "
                     + "(what the sandbox hides); set slurmConf to a copy of the cluster's, or choose off.")
        }
        try checks.finish()
        if !host.problems.isEmpty { throw InputRejection.conflict(host.problems) }
        if let other = try await SlurmCluster.query(on: db).filter(\.$name == name!).first(), other.id != cluster.id {
            throw InputRejection.conflict("a cluster named '\(name!)' exists.")
        }
        if let id = cluster.id, (cluster.slurmConf, cluster.serviceAccount, cluster.stagingFolder, cluster.completionLog) != (conf, service, staging!, log ?? "") {
            let live = try await liveJobs(id, on: db)
            if live > 0 {
                throw InputRejection.conflict("\(live) job(s) are queued or running on \(cluster.name): its slurmConf, serviceAccount, stagingFolder and completionLog "
                                              + "stay as they are until they end (the platform follows them there).")
            }
        }
        let isNew = cluster.id == nil
        (cluster.name, cluster.slurmConf, cluster.partition, cluster.account, cluster.serviceAccount) = (name!, conf, partition!, account, service)
        (cluster.stagingFolder, cluster.completionLog, cluster.maxCores, cluster.maxMemoryMB) = (staging!, log ?? "", cores!, memory!)
        (cluster.maxGPUs, cluster.maxMinutes, cluster.pollSeconds, cluster.timeZone) = (gpus!, minutes!, poll!, zone)
        cluster.sandbox = sandbox!.rawValue
        (cluster.restURL, cluster.restTokenVariable) = (rest?.url, rest?.tokenVariable)
        if isNew {
            cluster.createdAt = now
            try await cluster.create(on: db)
        } else {
            try await cluster.update(on: db)
        }
        return cluster
    }

    static func dto(_ cluster: SlurmCluster) throws -> SlurmClusterDTO {
        SlurmClusterDTO(id: try cluster.requireID(), name: cluster.name, slurmConf: cluster.slurmConf, partition: cluster.partition, account: cluster.account,
                        serviceAccount: cluster.serviceAccount, stagingFolder: cluster.stagingFolder,
                        completionLog: cluster.keepsAccounting ? nil : cluster.completionLog,
                        timeZone: cluster.timeZone, maxCores: cluster.maxCores, maxMemoryMB: cluster.maxMemoryMB, maxGPUs: cluster.maxGPUs, maxMinutes: cluster.maxMinutes,
                        pollSeconds: cluster.pollSeconds, sandbox: cluster.sandboxMode.rawValue,
                        rest: cluster.restURL.map { SlurmRESTSettings(url: $0, tokenVariable: cluster.restTokenVariable ?? "") })
    }

    /// Sends the project's jobs to `clusterID` (nil: the platform's workers). Jobs already queued stay where they are.
    static func setCompute(_ project: ResearchProject, cluster clusterID: UUID?, on db: any Database) async throws {
        if let clusterID, try await SlurmCluster.find(clusterID, on: db) == nil {
            throw InputRejection.conflict("slurmCluster: no cluster has that id.")
        }
        project.slurmClusterID = clusterID
        try await project.save(on: db)
    }

    /// How the platform reaches a cluster: the account its commands run as (when the platform is root), the account
    /// jobs run as (whose files alone are read back), and the commands' environment.
    struct Access: Sendable {
        var runAs: SlurmServiceAccount?
        var owner: SlurmServiceAccount?
        var environment: [String: String]
        /// slurmrestd, when the cluster is reached through it: its address, and the account and JWT to ask as.
        var rest: REST? = nil
        /// The cluster's ClusterName in its slurm.conf, when this host can read it (one slurmdbd may keep several
        /// clusters' jobs, their ids overlapping).
        var clusterName: String? = nil

        struct REST: Sendable {
            var url: String
            var user: String
            var token: String
        }
    }

    /// Refuses (409) when the platform is root and the cluster has no usable service account: a job it submitted
    /// itself would run as root.
    static func access(_ cluster: SlurmCluster) throws -> Access {
        let environment = cluster.slurmConf.map { ["SLURM_CONF": $0] } ?? [:]
        var access: Access
        if geteuid() != 0 {
            // Not root: jobs run as the platform's own user, and only its files are read back.
            let name = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "the platform's user"
            access = Access(runAs: nil, owner: SlurmServiceAccount(name: name, uid: geteuid(), gid: getegid()), environment: environment)
        } else {
            guard let name = cluster.serviceAccount, let found = SlurmServiceAccount.named(name), found.uid != 0, found.gid != 0 else {
                throw Refusal("The cluster \(cluster.name) has no usable service account, and the platform runs as root: no job is sent to it. "
                              + "An administrator sets one (a host user that is not root).")
            }
            access = Access(runAs: found, owner: found, environment: environment)
        }
        if let url = cluster.restURL {
            guard let variable = cluster.restTokenVariable, let token = ProcessInfo.processInfo.environment[variable], !token.isEmpty,
                  let user = access.owner?.name else {
                throw Refusal("The cluster \(cluster.name) is reached through slurmrestd, and the platform has no token for it "
                              + "(\(cluster.restTokenVariable ?? "restTokenVariable") is not set): no job is sent to it.")
            }
            access.rest = Access.REST(url: url, user: user, token: token)
            if cluster.keepsAccounting, let text = try? String(contentsOfFile: cluster.slurmConf ?? "/etc/slurm/slurm.conf", encoding: .utf8) {
                access.clusterName = SlurmConfiguration.settings(text)["clustername"]
            }
        }
        return access
    }

    /// The sandbox the cluster's job scripts carry (nil: off): the system-call filter built here, and the folders a job
    /// must not see, from the cluster's slurm.conf as this host reads it. Refuses (409) when the filter cannot be built.
    static func sandbox(_ cluster: SlurmCluster) throws -> SlurmSandbox? {
        guard cluster.sandboxMode != .off else { return nil }
        guard let filter = SystemCallFilter.program() else {
            throw Refusal("The cluster \(cluster.name) runs jobs in the platform's sandbox, and this host cannot build its system-call filter "
                          + "(libseccomp): no job is sent. An administrator installs libseccomp2 or sets the cluster's sandbox to off.")
        }
        let conf = try? String(contentsOfFile: cluster.slurmConf ?? "/etc/slurm/slurm.conf", encoding: .utf8)
        return SlurmSandbox(mode: cluster.sandboxMode, filter: filter, architecture: SystemCallFilter.architecture,
                            hidden: SlurmSandbox.hiddenFolders(slurmConf: conf))
    }
}
