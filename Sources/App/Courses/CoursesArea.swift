// Courses: their pages, members and rosters.
import Vapor

enum CoursesArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.signedIn.get(.course(.key), use: CourseController.page)
        pages.signedIn.post(.course(.key), use: CourseController.updateFromPage)
        pages.signedIn.post(.courseMembers(.key), use: CourseController.setMemberFromPage)
        pages.signedIn.post(.removeCourseMember(.key, user: .key), use: CourseController.removeMemberFromPage)
        pages.signedIn.post(.courseRoster(.key), use: CourseController.importFromPage)
        pages.signedIn.get(.courseRosterCSV(.key), use: CourseController.exportCSV)
    }

    static func api(_ api: APIRoutes) {
        api.on(.GET, "courses/:courseID", id: "getCourse", summary: "A course you have a role in (or manage).", tag: "courses",
               response: .one(CourseDTO.self), errors: [404: "No such course, or not yours to see."], use: CourseController.show)
        api.on(.GET, "courses/:courseID/roster", id: "getRoster", summary: "Who is in the course (staff only); ?page=&per= (at most 500).",
               tag: "courses",
               response: .page(Rosters.Entry.self),
               errors: [404: "No such course, or its roster is not yours to see."], use: CourseController.roster)
        api.on(.POST, "courses/:courseID/roster", id: "importRoster",
               summary: "Import a roster CSV (body text/csv: email,name,role). All or nothing: any bad row rejects the file.", tag: "courses",
               request: .body(.string(), as: "text/csv"),
               response: .one(RosterImportSummary.self),
               errors: [404: "No such course, or not yours to manage.", 413: "The file is over 1 MB.",
                        422: "The file has problems; error.problems lists each with its line."], use: CourseController.importCSV)
        api.on(.GET, "courses", id: "listMyCourses", summary: "The courses you have a role in, by code, with your role in each; ?page=&per=.",
               tag: "courses", response: .page(CourseDTO.self), errors: [401: "No valid bearer token."], use: CourseController.mine)
        api.on(.PATCH, "courses/:courseID", id: "changeCourse", summary: "Change the fields given (instructors, managers, administrators).",
               tag: "courses", request: .input(CourseInput.self, required: []),
               response: .one(CourseDTO.self),
               errors: [404: "No such course, or not yours to manage.", 409: "The programme has that code in that term already."],
               use: CourseController.update)
        api.on(.PUT, "courses/:courseID/members", id: "setCourseMember",
               summary: "Add one person with a role (instructor, ta, student) or change it; a new email with a name creates them with an invitation.",
               tag: "courses", request: .input(MembershipInput.self, schema: MembershipInput.schema(roles: CourseRole.self)),
               response: .one(CourseMemberDTO.self),
               errors: [404: "No such course, or not yours to manage.", 409: "A new email needs a name."],
               use: CourseController.setMember)
        api.on(.DELETE, "courses/:courseID/members/:userID", id: "removeCourseMember", summary: "Remove a person from the course.",
               tag: "courses", status: 204, errors: [404: "No such course or person, or not yours to manage."], use: CourseController.removeMember)

    }
}
