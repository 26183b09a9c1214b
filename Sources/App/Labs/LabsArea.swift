// Interactive labs: a course's lab environments (JupyterLab or a terminal), their set-up into an environment layer,
// their limits and who may start them when.
import Vapor

enum LabsArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.signedIn.post(.courseLabs(.key), use: LabController.createFromPage)
        pages.signedIn.get(.lab(.key), use: LabController.page)
        pages.signedIn.post(.lab(.key), use: LabController.updateFromPage)
        pages.signedIn.post(.labSetup(.key), use: LabController.setUpAgainFromPage)
        pages.signedIn.post(.startLab(.key), use: LabSessionController.startFromPage)
        pages.signedIn.get(.labHomeZip(.key), use: LabHomeController.download)
        pages.signedIn.post(.labPrestart(.key), use: LabController.prestartFromPage)
        pages.signedIn.post(.resetLabHome(.key), use: LabHomeController.resetFromPage)
        pages.signedIn.on(.POST, .labStartFiles(.key), body: .collect(maxSize: "51mb"), use: LabHomeController.setStartFilesFromPage)
        pages.signedIn.get(.labSession(.key), use: LabSessionController.page)
        pages.signedIn.post(.stopLabSession(.key), use: LabSessionController.stopFromPage)
        pages.signedIn.get(.labTerminal(.key), use: LabSessionController.terminal)
        pages.signedIn.get(.labSessionStatus(.key), use: LabSessionController.status)
        pages.signedIn.post(.keepLabSession(.key), use: LabSessionController.keepFromPage)
        pages.signedIn.get(.openLab(.key), use: LabOrigin.open)
        for asset in [SitePath.xtermScript, .xtermFit, .xtermStyle] { pages.signedIn.get(asset, use: LabSessionController.asset) }
        for method in [HTTPMethod.GET, .POST, .PUT, .PATCH, .DELETE] {
            pages.relayed.on(method, .labProxy(.key), body: .collect(maxSize: LabProxy.maxBody), use: LabProxy.relay)
        }
    }

    static func api(_ api: APIRoutes) {
        api.on(.GET, "courses/:courseID/labs", id: "listLabs", summary: "The course's lab environments (students: those open to them), by name.",
               tag: "labs", response: .list(LabDTO.self), errors: [404: "No such course, or not yours to see."], use: LabController.list)
        api.on(.POST, "courses/:courseID/labs", id: "createLab",
               summary: "Create a lab environment (instructors): name, kind (jupyterlab or terminal), setupScript (run once with network into the environment; for jupyterlab it must install JupyterLab, and defaults to pip install jupyterlab), session limits (cpuMillis, memoryMB, processes, homeQuotaMB, idleMinutes, longestMinutes; defaults by kind), network during sessions (default false), openTo (staff — the default, to try it first — or students) and schedule (weekly windows in UTC, one per line: mon,wed 09:00-11:00; empty: always); readySessions: how many sessions each lab host keeps started ahead of need, so people starting it get one at once (0–50, default 0); chargeCPU and chargeMemory: whether sessions also pay for their CPU time and their memory over time (price list: lab_cpu_hour, lab_memory_gb_hour), measured from each session's cgroup — holds cover the session at its CPU cap and memory limit, settles take what was used (default false).",
               tag: "labs", request: .input(LabInput.self), response: .one(LabDTO.self), status: 201,
               errors: [404: "No such course, or not yours to manage.", 409: "The course has a lab of that name."], use: LabController.create)
        api.on(.GET, "labs/:labID", id: "getLab", summary: "One lab environment (the set-up script and log for staff only).", tag: "labs",
               response: .one(LabDTO.self), errors: [404: "No such lab, or not yours to see."], use: LabController.show)
        api.on(.PATCH, "labs/:labID", id: "changeLab", summary: "Change the fields given (instructors); a new setupScript runs as a new set-up. kind cannot change.",
               tag: "labs", request: .input(LabInput.self, required: []), response: .one(LabDTO.self),
               errors: [404: "No such lab, or not yours to manage.", 409: "The course has a lab of that name."], use: LabController.update)
        api.on(.POST, "labs/:labID/setup", id: "setUpLabAgain", summary: "Run the set-up script again as a new version (instructors), e.g. for newer packages.",
               tag: "labs", response: .one(LabDTO.self),
               errors: [404: "No such lab, or not yours to manage.", 409: "A set-up is already waiting, or there is no script."], use: LabController.setUpAgain)
        api.on(.POST, "labs/:labID/sessions", id: "startLabSession",
               summary: "Start a session of the lab (its staff, and its students when it is open to them and its schedule allows). The first 30 minutes are held from your allowance (staff: the course's allocation); every minute the time used is charged and the hold renewed; at zero the session stops and your files are kept. The terminal is the page's WebSocket at /labs/sessions/{id}/terminal.",
               tag: "labs", response: .one(LabSessionDTO.self), status: 201,
               errors: [404: "No such lab, or not yours to use.", 409: "It cannot start now: being set up, outside its schedule, already running, or not enough credits (the message says who can raise them)."],
               use: LabSessionController.start)
        api.on(.GET, "labs/:labID/sessions", id: "listMyLabSessions", summary: "Your sessions of the lab, newest first (the last 50).", tag: "labs",
               response: .list(LabSessionDTO.self), errors: [404: "No such lab, or not yours to use."], use: LabSessionController.mine)
        api.on(.POST, "labs/:labID/class-start", id: "startLabForClass",
               summary: "Start the lab for a class at a time (instructors), so it starts together — an exam, a lab hour: at (ISO 8601 or YYYY-MM-DDTHH:MM, UTC; absent: now), students (emails, one per line or comma-separated; absent: every student of the course), chargeCourse (default true: the class's time is paid from the course's allocation; false: from each student's allowance).",
               tag: "labs", request: .input(LabPrestartInput.self), response: .one(LabPrestartDTO.self), status: 202,
               errors: [404: "No such lab, or not yours to manage."], use: LabController.prestart)
        api.on(.GET, "labs/:labID/home", id: "getMyLabHome", summary: "Your files of the lab, as kept between sessions: their size against the lab's quota.",
               tag: "labs", response: .one(LabHomeDTO.self), errors: [404: "No such lab, or not yours to use."], use: LabHomeController.show)
        api.on(.GET, "labs/:labID/home.zip", id: "downloadMyLabHome", summary: "Your files of the lab as one zip (application/zip; at most 512 MB).",
               tag: "labs", errors: [404: "No such lab, or not yours to use.", 409: "Over 512 MB."], use: LabHomeController.download)
        api.on(.POST, "labs/:labID/home/reset", id: "resetMyLabHome", summary: "Delete your files of the lab: your next session starts from its start files.",
               tag: "labs", status: 204, errors: [404: "No such lab, or not yours to use.", 409: "A session of yours is running; stop it first."],
               use: LabHomeController.resetFromAPI)
        api.on(.PUT, "labs/:labID/start-files", id: "setLabStartFiles",
               summary: "Upload the files every new home of the lab starts with (instructors; body application/zip, at most 50 MB; an empty body removes them).",
               tag: "labs", request: .body(.string(format: "binary"), as: "application/zip"), response: .one(LabDTO.self),
               errors: [404: "No such lab, or not yours to manage.", 413: "The zip is over 50 MB.", 422: "The zip was refused; the message says why."],
               body: .collect(maxSize: "51mb"), use: LabHomeController.setStartFiles)
        api.on(.GET, "lab-sessions/:sessionID", id: "getLabSession", summary: "One of your lab sessions: status, charge so far, time your allowance still pays for, and a warning under 5 minutes.",
               tag: "labs", response: .one(LabSessionDTO.self), errors: [404: "No such session of yours."], use: LabSessionController.show)
        api.on(.POST, "lab-sessions/:sessionID/stop", id: "stopLabSession", summary: "Stop your session: its time is charged and your files are kept.",
               tag: "labs", response: .one(LabSessionDTO.self), errors: [404: "No such session of yours.", 409: "It has already ended."], use: LabSessionController.stop)
    }
}
