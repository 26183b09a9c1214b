// This process as a lab host: it runs its sessions' sandboxes, meters them every few seconds (`meter`), and stops
// them — at the person's request, when the allowance or the longest-session limit says so, or when the platform
// stops. It also keeps sessions started ahead of need (`prepare`, `take`, `adopt`): a person starting a lab gets one
// of those at once. A session's home folder is kept on the host between sessions (the sandbox gets a copy in a tmpfs of the
// lab's quota, so writes past it fail inside; what is there when it ends replaces the kept copy, and so, every five
// minutes while it runs, does a saved copy: `saveHomes`).
import Fluent
import Foundation
import Labs
import NIOConcurrencyHelpers
import Sandbox
import Vapor

actor LabHost {
    nonisolated let name: String
    private let app: Application
    private struct Running {
        let cancellation: SandboxCancellation
        var reason: String?
        var task: Task<Void, Never>?
        var endpoint: Endpoint
        let probe: SandboxProbe
        /// Where its home is kept when it ends (learnt when a prepared session is taken).
        let keep: SandboxKeep
        let idleSeconds: TimeInterval
        /// The session's CPU time when last measured, and when (a real clock: a rate, not a charge).
        var cpuMark: (nanoseconds: Int, at: ContinuousClock.Instant)?
        /// Its use, for the meters: what it has used since it became the person's (`usage`).
        var use = Use()
        /// When its home was last saved while it ran (or tried to be, or it started, or became someone's), and the
        /// most its files may add up to.
        var savedAt = Date.distantPast
        var quotaBytes: Int64 = 0
    }

    /// A session's use as its meters count it: CPU time since it became the person's (a session prepared ahead
    /// brings the CPU time of its own start, which is not theirs), and its memory summed over time from samples
    /// taken at each metering pass (each interval at the mean of its two ends).
    struct Use {
        var cpuBase = 0
        var cpuMs: Int64 = 0
        var memory: (mb: Double, at: Date)?
        var mbSeconds: Double = 0

        /// Takes a sample at `now` (the probe reads nothing once the sandbox has ended: the last memory figure
        /// then stands until `now`).
        mutating func sample(_ probe: SandboxProbe, at now: Date, finalCPUMs: Int? = nil) {
            if let finalCPUMs { cpuMs = max(cpuMs, Int64(finalCPUMs) - Int64(cpuBase / 1_000_000)) }
            else if let cpu = probe.cpuNanoseconds { cpuMs = max(cpuMs, Int64(max(0, cpu - cpuBase) / 1_000_000)) }
            let mb = probe.memoryBytes.map { Double($0) / 1_048_576 }
            if let last = memory { mbSeconds += (last.mb + (mb ?? last.mb)) / 2 * max(0, now.timeIntervalSince(last.at)) }
            memory = (mb ?? memory?.mb ?? 0, max(now, memory?.at ?? now))  // (a pass's time may be behind a start's)
        }

        /// From now on: the CPU time so far is not counted, memory from its current figure.
        mutating func begin(_ probe: SandboxProbe, at now: Date) {
            self = Use(cpuBase: probe.cpuNanoseconds ?? 0, memory: (probe.memoryBytes.map { Double($0) / 1_048_576 } ?? 0, now))
        }

        var figures: LabUsage { LabUsage(seconds: 0, cpuMs: cpuMs, memoryMBSeconds: Int64(mbSeconds)) }
    }

    /// When the person last did something in the session: typed, ran code, saved (polling by an open tab does not
    /// count), or the session's own processes were busy.
    final class Activity: Sendable {
        private let last: NIOLockedValueBox<Date>
        init(_ now: Date) { last = NIOLockedValueBox(now) }
        func mark(_ now: Date) { last.withLockedValue { $0 = max($0, now) } }
        var at: Date { last.withLockedValue { $0 } }
    }
    /// Busier than this share of a core, a session is working, not idle.
    static let busyShare = 0.05
    /// The countdown shown before an idle session stops.
    static let idleWarning: TimeInterval = 300

    /// How the platform reaches a session's program: its Unix socket (through a short link: a socket's path may be at
    /// most 107 bytes, and a session's folder is deep). The socket is the program's only door, and only the session's
    /// own uid (inside its sandbox) and the platform can open it, so the program asks for no token of its own.
    struct Endpoint: Sendable {
        var kind: LabKind
        /// The session's folder, through a short link, and the socket's name in it (see `LabSocket`).
        var folder: String
        var socketName: String
        var activity: Activity

        /// The socket, opened safely; nil while the program has not made it yet.
        func open() throws -> LabSocket? { try LabSocket(folder: folder, name: socketName) }

        /// Whether the program has made its socket (it listens once it has started).
        var isListening: Bool {
            guard let socket = try? open() else { return false }
            _ = socket.path
            return true
        }
    }
    private var running: [UUID: Running] = [:]
    /// The session's home inside its sandbox (the sandbox's work folder), and its program's socket there.
    static let home = "/home/lab"
    static func socketName(_ kind: LabKind) -> String { kind == .terminal ? ".terminal.sock" : ".jupyter.sock" }

    /// Where the web tier reaches this host (`campuscloud worker --labs`), nil for `serve`'s own; how many sessions it runs.
    private(set) var address: String?
    private(set) var capacity: Int

    init(app: Application) {
        self.app = app
        capacity = app.platformConfig.labSessions
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, 255)
        name = "\(String(cString: host))-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
    }

    static func homesFolder(_ config: AppConfig) -> String {
        config.labHomes.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            ?? URL(fileURLWithPath: config.dataDirectory).standardizedFileURL.path + "/lab-homes"
    }

    /// Becomes a lab host of its own (`campuscloud worker --labs`): reached at `address`, for up to `capacity` sessions.
    func serve(at address: String, capacity: Int) {
        (self.address, self.capacity) = (address, capacity)
    }

    /// The folder that keeps a person's home of a lab (shared by the lab hosts).
    nonisolated func homeFolder(lab: UUID, user: UUID) -> String {
        LabHost.homesFolder(app.platformConfig) + "/\(lab.uuidString.lowercased())/\(user.uuidString.lowercased())"
    }

    /// The environment layer sessions of `lab` see: none for a terminal without a set-up; built here if this host
    /// does not have it yet.
    func layer(for lab: LabEnvironment) async throws -> SandboxLayer? {
        guard lab.setupStatus == .ready else { return nil }
        let id = lab.layerID
        if let layer = app.sandbox.sandbox.layer(id: id) { return layer }
        // Built here once however many start at once (its set-up ran on another machine).
        let build = building[id] ?? Task { [app] in try await LabSetupHandler.build(lab, app: app) }
        building[id] = build
        defer { building[id] = nil }
        guard case .ready = try await build.value, let layer = app.sandbox.sandbox.layer(id: id) else {
            throw Refusal("“\(lab.name)” could not be set up on this lab host.")
        }
        return layer
    }
    private var building: [String: Task<LabSetupHandler.Outcome, any Error>] = [:]

    /// The person's home of the lab, ready for a session (made from the start files the first time); refused when it
    /// holds more than the lab's quota (a session would start with part of it and keep only that).
    /// Returns the bytes it holds.
    @discardableResult
    func prepareHome(lab: LabEnvironment, user: UUID) async throws -> Int64 {
        let home = homeFolder(lab: try lab.requireID(), user: user)
        try await LabHomes.prepare(home, for: lab, on: app.db)
        let used = LabHomes.usage(home)
        if used > Int64(lab.homeQuotaMB) << 20 {
            throw Refusal("Your files of “\(lab.name)” take \(used >> 20) MB, more than its quota of \(lab.homeQuotaMB) MB; download them from the lab's page and delete some (or ask the staff for a larger quota).")
        }
        return used
    }

    // MARK: Starting a person's session: `ready`, then the row is written elsewhere, then `begin` (or `giveBack`)

    /// Gets ready to start `user`'s session of the lab here: the environment's layer (built here if this host does
    /// not have it yet) and the home (refused over quota); a prepared session when one is ready and the home is not
    /// near its quota (the prepared one's program has already used some of that space), else `proposed`. Returns the
    /// session id to write and a token that keeps this host's meter off that id until `begin` or `giveBack` (or two
    /// minutes, should the caller never come back).
    func ready(lab: LabEnvironment, user: UUID, proposed: UUID) async throws -> (id: UUID, token: UUID) {
        let full = Refusal("This lab host is running all the sessions it may (\(capacity)); try again in a few minutes.")
        guard !closing, running.count + launching.count < capacity else { throw full }
        // What is charged must be measured, and what a hold covers must be enforced: a host without cgroups' CPU
        // controller runs such a lab nowhere.
        if lab.chargeCPU || lab.chargeMemory, (try? app.sandbox.sandbox.capsAndMeasuresUsage()) != true {
            app.logger.error("Lab “\(lab.name)” charges CPU time or memory, which lab host \(name) cannot cap and measure (it needs cgroups with the cpu controller)")
            throw Refusal("“\(lab.name)” charges CPU time or memory, which this lab host cannot measure; the IT staff have been told (the course staff can turn those charges off meanwhile).")
        }
        _ = try await layer(for: lab)
        let homeBytes = try await prepareHome(lab: lab, user: user)
        // Checked again with nothing awaited until the start is counted: starts that waited together stay within it.
        guard !closing, running.count + launching.count < capacity else { throw full }
        let id = homeBytes < Int64(lab.homeQuotaMB) << 20 * 9 / 10 ? take(lab) ?? proposed : proposed
        let token = UUID()
        taken[id]?.takenBy = token
        launching[id, default: []].insert(token)
        Task { [weak self] in
            try? await Task.sleep(for: .seconds(120))
            await self?.expire(id, token)
        }
        return (id, token)
    }

    /// The caller of `ready` never came back (its process died between `ready` and `begin`): the meter may end a
    /// row written meanwhile, and a prepared session it took is stopped, not given back (a row may carry its id).
    private func expire(_ id: UUID, _ token: UUID) {
        guard !begun.contains(token) else { return }
        if let spare = taken[id], spare.takenBy == token { spare.running.cancellation.cancel() }
        endLaunch(id, token)
    }

    /// Starts the session whose row was written after `ready`: the prepared one made the person's, or a new sandbox.
    /// Once per `ready`: a token this host did not give, or one already used, is refused.
    func begin(_ session: LabSession, lab: LabEnvironment, token: UUID) async throws {
        let id = try session.requireID()
        guard launching[id]?.contains(token) == true, !begun.contains(token), running[id] == nil else {
            throw Refusal("This start of the session was not this lab host's to make (or it was made already).")
        }
        begun.insert(token)
        defer {
            begun.remove(token)
            endLaunch(id, token)
        }
        guard !closing else { throw Refusal("This lab host is stopping.") }
        if let spare = taken[id] {
            guard spare.takenBy == token else { throw Refusal("This prepared session is set aside for another start.") }
            try await adopt(session)
        } else {
            let layer = try await layer(for: lab)
            guard !closing, running[id] == nil else { throw Refusal("This lab host is stopping.") }
            try launch(session, lab: lab, layer: layer)
        }
    }

    /// Starts under way (`begin` called): the two-minute expiry leaves them to finish, however long the copy takes.
    private var begun: Set<UUID> = []
    /// Set when the host stops: nothing more begins.
    private var closing = false

    /// The row was not written (refused): a prepared session waits for the next person.
    func giveBack(_ id: UUID, token: UUID) {
        if var spare = taken[id], spare.takenBy == token {
            taken[id] = nil
            spare.takenBy = nil
            prepared[id] = spare
        }
        endLaunch(id, token)
    }

    /// Starts the session's sandbox; it runs until stopped or its program ends, then the session is finished.
    private func launch(_ session: LabSession, lab: LabEnvironment, layer: SandboxLayer?) throws {
        let id = try session.requireID()
        // The home is prepared by the caller (`prepareHome`), before the session's row is written.
        running[id] = try start(id, lab: lab, layer: layer, home: homeFolder(lab: try lab.requireID(), user: session.$user.id))
    }

    /// Starts a sandbox serving the lab's program at session `id`'s address: with `home` copied in (and kept into it
    /// when it ends), or, prepared ahead of need, with an empty home that `adopt` fills.
    private func start(_ id: UUID, lab: LabEnvironment, layer: SandboxLayer?, home: String?) throws -> Running {
        let minutes = lab.longestMinutes
        // A prepared session may wait before someone takes it; its session's own limit is kept by the meter.
        let waiting = home == nil ? Int(LabReadyPool.longestWait) : 0
        let socketName = Self.socketName(lab.kind)
        let command: [String] = switch lab.kind {
        case .terminal: ["/usr/bin/python3", "-I", "-c", TerminalServer.program, Self.home + "/" + socketName]
        case .jupyterlab: Self.jupyterCommand(session: id, socket: Self.home + "/" + socketName)
        }
        var job = SandboxJob(command: command, copyFrom: home, workPath: Self.home,
                             environment: ["HOME": Self.home, "TERM": "xterm-256color", "SHELL": "/bin/bash", "USER": "student", "LANG": "C.UTF-8",
                                           "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime", "PATH": "/usr/local/bin:/usr/bin:/bin"],
                             limits: SandboxLimits(wallSeconds: Double(minutes * 60 + 120 + waiting), cpuSeconds: minutes * 60 * 8, memoryMB: lab.memoryMB,
                                                   pids: lab.processes, outputKB: 256, fileSizeMB: min(lab.homeQuotaMB, 1024), diskMB: lab.homeQuotaMB,
                                                   openFiles: 1024, cpuMillis: lab.cpuMillis),
                             network: lab.network, layer: layer)
        let cancellation = SandboxCancellation()
        job.cancellation = cancellation
        job.folderName = Self.folderName(id)
        let keep = SandboxKeep(into: home)
        job.keep = keep
        let probe = SandboxProbe()
        job.probe = probe
        let link = try linkFolder() + "/" + id.uuidString.lowercased()
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: app.sandbox.sandbox.sessionFolder(named: job.folderName!))
        var started = Running(cancellation: cancellation, reason: nil, task: nil,
                              endpoint: Endpoint(kind: lab.kind, folder: link, socketName: socketName, activity: Activity(app.clock.now())),
                              probe: probe, keep: keep, idleSeconds: TimeInterval(lab.idleMinutes * 60))
        started.use.memory = (0, app.clock.now())
        (started.savedAt, started.quotaBytes) = (app.clock.now(), Int64(lab.homeQuotaMB) << 20)
        let app = self.app, job2 = job, memory = lab.memoryMB, quotaMB = lab.homeQuotaMB
        started.task = Task {
            let ending: String
            var cpuMs: Int?
            do {
                let result = try await app.sandbox.run(job2)
                ending = "The lab's program " + SandboxReport.finished(result, seconds: minutes * 60, memory: memory) + "."
                cpuMs = result.cpuMs
            } catch {
                ending = "The lab stopped: \(error)"
            }
            if case .failed(let failure) = keep.last { app.logger.error("Lab session \(id): its home could not be kept as it stopped (\(failure)); its last save stands") }
            await self.ended(id, ending: ending, cpuMs: cpuMs, keepProblem: keep.last.flatMap { Self.lastKeepProblem($0, quotaMB: quotaMB) })
        }
        return started
    }

    static func folderName(_ session: UUID) -> String { "lab-" + session.uuidString.lowercased() }

    /// What the person is told of their session's last keep (nil: kept whole).
    static func lastKeepProblem(_ last: SandboxLastKeep, quotaMB: Int) -> String? {
        switch last {
        case .kept(let leftOut) where leftOut.isEmpty:
            return nil
        case .kept(let leftOut):
            return "When the lab stopped, not every file fit its \(quotaMB) MB disk (a sparse file counts whole): "
                + SaveRefused.list(leftOut) + (leftOut.count == 1 ? " was" : " were") + " not kept. The rest were kept, in name order while they fit."
        case .failed:
            return "When the lab stopped, its files could not be kept (a fault on the lab's host, not in your files): your files are as they were last saved."
        }
    }

    /// A session's program has ended: its row is finished (charged, and with what its person is told of its last
    /// keep, if anything).
    private func ended(_ id: UUID, ending: String, cpuMs: Int?, keepProblem: String?) async {
        // A prepared session nobody had taken (or one being taken: `adopt` finds it gone) ends with no one to tell.
        if let spare = prepared.removeValue(forKey: id) ?? taken.removeValue(forKey: id) {
            unlink(spare.running.endpoint.folder)
            if !spare.running.cancellation.isCancelled { app.logger.warning("A lab session prepared ahead ended by itself: \(ending)") }
            return
        }
        let reason = running[id]?.reason ?? ending
        if let link = running[id]?.endpoint.folder { unlink(link) }
        let now = app.clock.now()
        var use = running[id]?.use
        if let probe = running[id]?.probe { use?.sample(probe, at: now, finalCPUMs: cpuMs) }
        running[id] = nil
        do {
            try await LabSessions.finish(id, reason: reason, app: app, at: now, used: use?.figures, homeProblem: keepProblem)
        } catch {
            app.logger.error("Lab session \(id) could not be finished: \(error); the sweep will end it.")
        }
    }

    /// Stops a session this host runs and waits until it is finished (its home kept, its time settled).
    func stop(_ id: UUID, reason: String) async {
        guard var session = running[id] else { return }
        if session.reason == nil { session.reason = reason }
        running[id] = session
        session.cancellation.cancel()
        await session.task?.value
    }

    func isRunning(_ id: UUID) -> Bool { running[id] != nil }

    /// How often a running session's home is saved: should this host die, the person's files are as of the last save
    /// (a session that ends keeps its home whole, as it ends).
    static let homeSaveSeconds: TimeInterval = 300

    /// Saves the homes of this host's running sessions last saved (or started) `homeSaveSeconds` or more before
    /// `now`, one at a time (a class's sessions are due together: the host's disk and CPU serve one copy at once), on
    /// a thread of their own; returns once they are done. One that fails is logged, its kept home left as it was, and
    /// tried again `homeSaveSeconds` later; one refused for what its files are is also told to the person (the
    /// session's `homeSaveProblem`, until a save succeeds).
    func saveHomes(at now: Date) async {
        let due = running.filter { now.timeIntervalSince($0.value.savedAt) >= Self.homeSaveSeconds && !$0.value.cancellation.isCancelled }
        let sandbox = app.sandbox.sandbox
        // (Stopped between two saves when the loop is: the sessions' own last keeps, which come after, must not wait.)
        for (id, session) in due.sorted(by: { $0.value.savedAt < $1.value.savedAt }) where !Task.isCancelled {
            running[id]?.savedAt = now
            let (keep, quota) = (session.keep, session.quotaBytes)
            do {
                guard try await onItsOwnThread({ try sandbox.save(sessionNamed: Self.folderName(id), keep: keep, maxBytes: quota) }) else { continue }
                // Shown to the person (a session that ended meanwhile keeps its row as it is).
                try await LabSession.query(on: app.db).filter(\.$id == id).filter(\.$status == .running).set(\.$homeSavedAt, to: now)
                    .set(\.$homeSaveProblem, to: nil).update()
            } catch let refusal as SaveRefused {
                app.logger.info("Lab session \(id): \(refusal)")
                try? await LabSession.query(on: app.db).filter(\.$id == id).filter(\.$status == .running)
                    .set(\.$homeSaveProblem, to: Self.saveProblem(refusal, at: now)).update()
            } catch {
                app.logger.warning("Lab session \(id): its home could not be saved while it runs (\(error)); the last save stands, tried again in \(Int(Self.homeSaveSeconds / 60)) min")
            }
        }
    }

    /// What the person is told of a refused save: when, why, and what stands meanwhile.
    static func saveProblem(_ refusal: SaveRefused, at now: Date) -> String {
        "Your files were not saved at \(PageFormat.when(now) ?? "?"): \(refusal.reason). Your last save stands; once this is put right, the next save "
            + "(every \(Int(homeSaveSeconds / 60)) minutes) takes them. When the lab stops, your files are kept in name order while they fit its disk."
    }

    /// How the platform reaches the session's program (nil when this host does not run it).
    func endpoint(of id: UUID) -> Endpoint? { running[id]?.endpoint }

    /// When the session stops for being idle, once that is less than `idleWarning` away (nil: not soon, or not here).
    func idleStopsAt(_ id: UUID, now: Date) -> Date? {
        guard let session = running[id] else { return nil }
        let stop = session.endpoint.activity.at.addingTimeInterval(session.idleSeconds)
        return stop.timeIntervalSince(now) <= Self.idleWarning ? stop : nil
    }

    /// Whether the session is working on its own: its processes busy, or (JupyterLab) a kernel running code.
    private func isBusy(_ id: UUID) async -> Bool {
        guard var session = running[id] else { return false }
        var busy = false
        if let cpu = session.probe.cpuNanoseconds {
            let now = ContinuousClock.now
            if let mark = session.cpuMark {
                let elapsed = Double((now - mark.at).components.seconds) + Double((now - mark.at).components.attoseconds) / 1e18
                busy = elapsed > 0 && Double(cpu - mark.nanoseconds) / 1e9 / elapsed > Self.busyShare
            }
            session.cpuMark = (cpu, now)
            running[id] = session
        }
        if !busy, session.endpoint.kind == .jupyterlab { busy = await LabProxy.kernelsBusy(session.endpoint, session: id, app: app) }
        return busy
    }

    /// JupyterLab from the environment's layer, on the session's socket (mode 0600: its door, see `Endpoint`), under
    /// the session's address; no token (the browser never sees one: the platform's session is the only key) and no
    /// XSRF check of its own (the proxy refuses any changing request that is not from the platform's own pages); no
    /// update checks or news (no network by default).
    static func jupyterCommand(session: UUID, socket: String) -> [String] {
        ["/usr/local/bin/jupyter-lab", "--no-browser", "--sock=\(socket)", "--sock-mode=0600",
         "--ServerApp.base_url=\(SitePath.labProxy(.id(session)).url)", "--IdentityProvider.token=", "--ServerApp.password=",
         "--ServerApp.disable_check_xsrf=True",
         "--ServerApp.root_dir=\(home)", "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--ServerApp.terminado_settings={\"shell_command\": [\"/bin/bash\", \"-l\"]}"]
    }

    /// Short links to sessions' folders, in a folder only this process's user can enter.
    private func linkFolder() throws -> String {
        let data = URL(fileURLWithPath: app.platformConfig.dataDirectory).standardizedFileURL.path + "/lab-links"
        let folder = data.utf8.count <= 50 ? data : "/tmp/campuscloud-lab-links-\(getuid())"
        if mkdir(folder, 0o700) != 0 && errno != EEXIST { throw Refusal("The lab host cannot make \(folder).") }
        var info = stat()
        guard lstat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid(), info.st_mode & 0o077 == 0 else {
            throw Refusal("The lab host's link folder \(folder) is not a private folder of its own.")
        }
        return folder
    }

    /// Pays for this host's sessions and stops those that must stop. Every few seconds while serving. Each pass
    /// also says this host is alive (so the sweep leaves its sessions alone however long a stop takes), stops any
    /// sandbox whose session has ended elsewhere (stopped through another instance, swept), and never lets one
    /// session's trouble hold up the others: stops run on their own.
    func meter(at now: Date) async throws {
        let hostName = name
        // Sessions registered before the rows are read: their rows were committed before they were registered, so
        // one missing from the running rows has ended (one registered while the rows are read is left for next time).
        let known = Set(running.keys)
        let (address, capacity) = (self.address, self.capacity)
        let ready = prepared.values.filter { $0.ready && !$0.running.cancellation.isCancelled }.reduce(into: [UUID: Int]()) { $0[$1.lab, default: 0] += 1 }
        // Each session's use so far, recorded with the sign of life: should this host die, the sweep settles from
        // these (what was used up to its last pass, not only up to its last tick).
        var figures: [UUID: LabUsage] = [:]
        for id in known { figures[id] = measure(id, at: now) }
        let recorded = figures
        try await app.writeTransaction(on: app.db) { db in
            let sql = try db.sqlDatabase()
            try await sql.raw("UPDATE lab_sessions SET seen_at = \(bind: now) WHERE host = \(bind: hostName) AND status = 'running'").run()
            for (id, used) in recorded {
                try await sql.raw("""
                    UPDATE lab_sessions SET cpu_ms = \(bind: used.cpuMs), memory_mb_seconds = \(bind: used.memoryMBSeconds)
                    WHERE id = \(bind: id) AND host = \(bind: hostName) AND status = 'running' AND cpu_ms <= \(bind: used.cpuMs) AND memory_mb_seconds <= \(bind: used.memoryMBSeconds)
                    """).run()
            }
            try await LabHosts.heartbeat(name: hostName, address: address, capacity: capacity, ready: ready, at: now, on: db)
        }
        let mine = try await LabSession.query(on: app.db).filter(\LabSession.$host == hostName).filter(\LabSession.$status == .running).all()
        let live = Set(mine.compactMap(\.id))
        for id in known where !live.contains(id) && !isLaunching(id) {
            detachStop(id, reason: "The session had ended.")
        }
        for session in mine {
            let id = try session.requireID()
            guard running[id] != nil else {
                // Being launched right now, or its sandbox is gone (a failed launch): end it, charged for its time.
                if !isLaunching(id) { try? await LabSessions.finish(id, reason: "Its sandbox was no longer running.", app: app, at: now) }
                continue
            }
            do {
                if let activity = running[id]?.endpoint.activity, let idle = running[id]?.idleSeconds {
                    if await isBusy(id) { activity.mark(now) }
                    if now.timeIntervalSince(activity.at) >= idle {
                        detachStop(id, reason: "It was idle for \(Int(idle / 60)) minutes (no typing and no code running); your files are kept.")
                        continue
                    }
                }
                let used = figures[id]
                let due = now.timeIntervalSince(session.heldFrom) >= LabHost.tickSeconds
                    || now >= session.heldFrom.addingTimeInterval(TimeInterval(session.heldSeconds)) || now >= session.endsAt
                guard due else { continue }
                switch try await LabSessions.tick(id, app: app, at: now, used: used) {
                case .going: break
                case .stop(let reason): detachStop(id, reason: reason)
                case .gone: detachStop(id, reason: "The session had ended.")
                }
            } catch {
                app.logger.warning("Lab session \(id): metering failed (\(error)); tried again on the next pass")
            }
        }
        // Let stops that were started finish before the caller reads the results (tests; the loop does not mind).
        await settleStops()
    }

    /// Samples the session's use (each metering pass: memory is summed over time from these samples).
    private func measure(_ id: UUID, at now: Date) -> LabUsage? {
        guard var session = running[id] else { return nil }
        session.use.sample(session.probe, at: now)
        running[id] = session
        return session.use.figures
    }

    /// Sessions being launched (their row written, their sandbox not yet registered): the meter leaves them be.
    /// (A token per start: a prepared session given back after a refused start can be taken by the next person
    /// while the first start's own end of launch is still to come.)
    private var launching: [UUID: Set<UUID>] = [:]
    private var stopping: [UUID: Task<Void, Never>] = [:]

    private func isLaunching(_ id: UUID) -> Bool { launching[id]?.isEmpty == false }
    private func endLaunch(_ id: UUID, _ token: UUID) {
        launching[id]?.remove(token)
        if launching[id]?.isEmpty == true { launching[id] = nil }
    }

    /// Stops a session without holding up the caller.
    private func detachStop(_ id: UUID, reason: String) {
        guard stopping[id] == nil, running[id] != nil else { return }
        stopping[id] = Task { await self.stop(id, reason: reason) }
    }

    private func settleStops() async {
        let pending = stopping
        for (id, task) in pending {
            await task.value
            stopping[id] = nil
        }
    }

    static let tickSeconds: TimeInterval = 60

    /// Stops every session (the platform is stopping), all at once: their homes are kept and their time settled.
    /// Prepared sessions stop too.
    func stopAll(reason: String) async {
        closing = true
        let spares = prepared.values.map(\.running) + taken.values.map(\.running)
        spares.forEach { $0.cancellation.cancel() }
        await withTaskGroup(of: Void.self) { group in
            for id in running.keys { group.addTask { await self.stop(id, reason: reason) } }
            for spare in spares { group.addTask { await spare.task?.value } }
        }
    }

    // MARK: Sessions prepared ahead of need (see Labs/LabReadyPool)

    /// A sandbox started before anyone asked, serving the lab's program at the address of the session id it will
    /// have, in an empty home. Nobody reaches it (the proxy knows only `running`) until `adopt` makes it someone's.
    private struct Prepared {
        let lab: UUID
        /// The environment as it was when this was started (`shape`): a change of version, limits or network
        /// retires it.
        let shape: String
        let since: Date
        var running: Running
        var ready = false
        /// The start (`ready`'s token) it is set aside for.
        var takenBy: UUID?
    }
    private var prepared: [UUID: Prepared] = [:]
    /// Taken for a person whose session is being written; back to `prepared` if it is refused.
    private var taken: [UUID: Prepared] = [:]

    private static func shape(_ lab: LabEnvironment) -> String {
        "\(lab.layerID)|\(lab.setupStatus.rawValue)|\(lab.limits)|\(lab.network)"
    }

    /// The lab's prepared sessions on this host now (those ready, or also those still starting).
    func prepared(of lab: UUID, readyOnly: Bool = true) -> [UUID] {
        prepared.filter { $0.value.lab == lab && ($0.value.ready || !readyOnly) && !$0.value.running.cancellation.isCancelled }.map(\.key)
    }

    func readyCount(of lab: UUID) -> Int { prepared(of: lab).count }

    /// A ready prepared session of the lab, set aside for the session about to be written (its id becomes the
    /// session's); nil when none is ready.
    private func take(_ lab: LabEnvironment) -> UUID? {
        guard let labID = lab.id else { return nil }
        let shape = Self.shape(lab)
        guard let (id, spare) = prepared.first(where: { $0.value.lab == labID && $0.value.shape == shape && $0.value.ready && !$0.value.running.cancellation.isCancelled }) else { return nil }
        prepared[id] = nil
        taken[id] = spare
        return id
    }

    /// Makes a taken prepared session the person's: their home copied in (owned by the sandbox's user), kept into
    /// their home when it ends, and reachable from now on. Throws when it stopped meanwhile or the copy failed (then
    /// it is stopped, and the home on the host is as it was).
    private func adopt(_ session: LabSession) async throws {
        let id = try session.requireID()
        guard taken[id] != nil else { throw Refusal("The prepared session stopped before it could be used.") }
        let home = homeFolder(lab: session.$lab.id, user: session.$user.id), sandbox = app.sandbox.sandbox
        let copied: Result<Void, any Error>
        do { copied = .success(try await onItsOwnThread { try sandbox.fill(sessionNamed: Self.folderName(id), from: home) }) } catch { copied = .failure(error) }
        guard var spare = taken.removeValue(forKey: id) else { throw Refusal("The prepared session stopped before it could be used.") }
        if case .failure(let error) = copied {
            spare.running.cancellation.cancel()
            prepared[id] = spare  // until its sandbox has ended (`ended` forgets it)
            throw error
        }
        if closing {
            spare.running.cancellation.cancel()
            prepared[id] = spare
            throw Refusal("This lab host is stopping.")
        }
        spare.running.keep.into = home
        spare.running.savedAt = app.clock.now()
        spare.running.endpoint.activity = Activity(app.clock.now())
        spare.running.use.begin(spare.running.probe, at: app.clock.now())
        running[id] = spare.running
    }

    /// Keeps each environment's chosen number of sessions prepared on this host (while it is open, or about to
    /// open), starting at most `LabReadyPool.startingAtOnce` at a time; retires those of an environment that
    /// changed or no longer wants them, and those that waited too long. Every few seconds while serving.
    func prepare(at now: Date) async throws {
        for (id, spare) in prepared where !spare.ready && !spare.running.cancellation.isCancelled {
            if spare.running.endpoint.isListening {
                prepared[id]?.ready = true
            } else if now.timeIntervalSince(spare.since) > LabReadyPool.readyWithin {
                // One that never starts listening would hold a starting place for ever.
                app.logger.warning("A lab session prepared ahead did not start within \(Int(LabReadyPool.readyWithin)) s; stopped")
                spare.running.cancellation.cancel()
            }
        }
        let labs = try await LabEnvironment.query(on: app.db).filter(\.$readySessions > 0).all()
            .filter { ($0.setupStatus == .ready || $0.setupStatus == .notNeeded) && LabReadyPool.wanted(LabEnvironments.schedule(of: $0), at: now) }
        var wanted: [UUID: (lab: LabEnvironment, shape: String)] = [:]
        for lab in labs { wanted[try lab.requireID()] = (lab, Self.shape(lab)) }
        // Retired: the environment changed or wants fewer, or it waited too long.
        var kept: [UUID: Int] = [:]
        for (_, spare) in prepared.sorted(by: { $0.value.since > $1.value.since }) where !spare.running.cancellation.isCancelled {
            let count = kept[spare.lab, default: 0]
            if let want = wanted[spare.lab], want.shape == spare.shape, count < want.lab.readySessions,
               now.timeIntervalSince(spare.since) < LabReadyPool.longestWait {
                kept[spare.lab] = count + 1
            } else {
                spare.running.cancellation.cancel()
            }
        }
        let live = prepared.values.filter { !$0.running.cancellation.isCancelled }
        var startingOnHost = live.count { !$0.ready }, onHost = live.count
        for (labID, want) in wanted {
            let mine = live.filter { $0.lab == labID && $0.shape == want.shape }
            let ready = mine.count(where: \.ready)
            let count = min(LabReadyPool.toStart(target: want.lab.readySessions, ready: ready, starting: mine.count - ready, startingOnHost: startingOnHost),
                            min(LabReadyPool.mostOnHost, capacity) - onHost)
            guard count > 0 else { continue }
            // Only with the environment's layer already on this host: building it (minutes) is left to the first
            // start, never to this pass, which runs beside the meter.
            let layer: SandboxLayer?
            if want.lab.setupStatus == .ready {
                guard let built = app.sandbox.sandbox.layer(id: want.lab.layerID) else { continue }
                layer = built
            } else {
                layer = nil
            }
            do {
                for _ in 0..<count {
                    let id = UUID()
                    prepared[id] = Prepared(lab: labID, shape: want.shape, since: now, running: try start(id, lab: want.lab, layer: layer, home: nil))
                    startingOnHost += 1
                    onHost += 1
                }
            } catch {
                app.logger.warning("A session of lab \(labID) could not be prepared ahead: \(error)")
            }
        }
    }
}

extension Application {
    private struct LabHostKey: StorageKey { typealias Value = LabHost }
    /// This process's lab host (set in `configure`).
    var labHost: LabHost {
        get { storage[LabHostKey.self]! }
        set { storage[LabHostKey.self] = newValue }
    }
}

/// Stops this host's sessions when the application stops (their homes kept, their time settled).
struct LabHostLifecycle: LifecycleHandler {
    func shutdownAsync(_ app: Application) async {
        await app.labHost.stopAll(reason: "The platform stopped; your files are kept.")
    }
}

/// While serving: this host's sessions metered every few seconds (sessions of hosts gone quiet are ended by the
/// workers' sweep, `LabSessions.sweep`), and sessions prepared ahead of need kept up.
final class LabMeterLoop: LifecycleHandler, @unchecked Sendable {
    private var loop: Task<Void, Never>?
    private var saves: Task<Void, Never>?

    func didBootAsync(_ app: Application) async throws {
        let host = app.labHost
        loop = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                if Task.isCancelled { break }
                do {
                    try await host.meter(at: app.clock.now())
                } catch {
                    app.logger.warning("Lab metering: \(error)")
                }
                do {
                    try await host.prepare(at: app.clock.now())
                } catch {
                    app.logger.warning("Lab sessions prepared ahead: \(error)")
                }
            }
        }
        // Homes are saved apart: a large one takes a while to copy, and must not hold up the meters.
        saves = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(30))
                if Task.isCancelled { break }
                await host.saveHomes(at: app.clock.now())
            }
        }
    }

    /// Waits for a pass under way: it uses the database, which stops after this.
    func shutdownAsync(_ app: Application) async {
        loop?.cancel()
        saves?.cancel()
        await loop?.value
        await saves?.value
    }
}
