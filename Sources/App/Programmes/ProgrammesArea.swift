// Programmes: their pages, managers and partner contacts, new courses and projects, the report.
import Vapor

enum ProgrammesArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.signedIn.get(.programme(.key), use: ProgrammeController.page)
        pages.signedIn.post(.programme(.key), use: ProgrammeController.updateFromPage)
        pages.signedIn.post(.programmeCourses(.key), use: ProgrammeController.createCourseFromPage)
        pages.signedIn.post(.programmeProjects(.key), use: ProgrammeController.createProjectFromPage)
        pages.signedIn.post(.programmeMembers(.key), use: ProgrammeController.setMemberFromPage)
        pages.signedIn.post(.removeProgrammeMember(.key, user: .key), use: ProgrammeController.removeMemberFromPage)
        pages.signedIn.get(.programmeReport(.key), use: ReportController.page)
        pages.signedIn.get(.programmeReportCSV(.key), use: ReportController.csv)
    }

    static func api(_ api: APIRoutes) {
        api.on(.GET, "programmes", id: "listProgrammes", summary: "Programmes you belong to (all, for admins); ?page=&per=.", tag: "programmes",
               response: .page(ProgrammeSummaryDTO.self),
               errors: [401: "No valid bearer token."], use: ProgrammeController.list)
        api.on(.GET, "programmes/:programmeID", id: "getProgramme",
               summary: "A programme with its courses (counts, no names) and projects.", tag: "programmes",
               response: .one(ProgrammeDTO.self),
               errors: [404: "No such programme, or not yours to see."], use: ProgrammeController.show)
        api.on(.POST, "programmes", id: "createProgramme", summary: "Create a programme (administrators). Dates are YYYY-MM-DD.", tag: "programmes",
               request: .input(ProgrammeInput.self),
               response: .one(ProgrammeSummaryDTO.self), status: 201,
               errors: [404: "Only administrators create programmes.", 409: "A programme has that name already."], use: ProgrammeController.create)
        api.on(.PATCH, "programmes/:programmeID", id: "changeProgramme", summary: "Change the fields given (managers, administrators).",
               tag: "programmes", request: .input(ProgrammeInput.self, required: []), response: .one(ProgrammeSummaryDTO.self),
               errors: [404: "No such programme, or not yours to manage.", 409: "A programme has that name already."],
               use: ProgrammeController.update)
        api.on(.GET, "programmes/:programmeID/members", id: "listProgrammeMembers",
               summary: "The programme's managers, partner contacts and course creators (managers see all, partner contacts no course creators, course creators none); ?page=&per=.",
               tag: "programmes", response: .page(MemberDTO.self), errors: [404: "No such programme, or not yours to see."],
               use: ProgrammeController.members)
        api.on(.PUT, "programmes/:programmeID/members", id: "setProgrammeMember",
               summary: "Add an existing person as manager, partner_contact or course_creator, or change their role.", tag: "programmes",
               request: .input(MembershipInput.self, schema: MembershipInput.schema(roles: ProgrammeRole.self)), response: .one(MemberDTO.self),
               errors: [404: "No such programme, or not yours to manage.", 409: "Nobody has that email, or their membership was changed at the same moment."],
               use: ProgrammeController.setMember)
        api.on(.DELETE, "programmes/:programmeID/members/:userID", id: "removeProgrammeMember", summary: "Remove a person from the programme.",
               tag: "programmes", status: 204, errors: [404: "No such programme or person, or not yours to manage."], use: ProgrammeController.removeMember)
        api.on(.POST, "programmes/:programmeID/courses", id: "createCourse", summary: "Create a course in the programme. Dates are YYYY-MM-DD.",
               tag: "courses", request: .input(CourseInput.self),
               response: .one(CourseDTO.self), status: 201,
               errors: [404: "No such programme, or not yours to manage.", 409: "The programme has that code in that term already."],
               use: ProgrammeController.createCourse)
        api.on(.POST, "programmes/:programmeID/projects", id: "createProject", summary: "Create a research project in the programme.",
               tag: "projects", request: .input(ProjectInput.self),
               response: .one(ProjectDTO.self), status: 201, errors: [404: "No such programme, or not yours to manage."],
               use: ProgrammeController.createProject)

        api.on(.GET, "programmes/:programmeID/report", id: "getProgrammeReport",
               summary: "The programme report (managers and partner contacts): credits granted, used and remaining per course and project with a burn-down, students reached, hand-ins graded, AI tokens, jobs, projects by status and their outputs. Counts only, no student names.",
               tag: "programmes",
               response: .one(ProgrammeReportDTO.self),
               errors: [404: "No such programme, or not yours to see."], use: ReportController.json)
        api.on(.GET, "programmes/:programmeID/report.csv", id: "getProgrammeReportCSV",
               summary: "The report as CSV: one row per course and project (credits granted, used, remaining, students, assignments, hand-ins graded, members, jobs, AI tokens, outputs).",
               tag: "programmes", errors: [404: "No such programme, or not yours to see."], use: ReportController.csv)
    }
}
