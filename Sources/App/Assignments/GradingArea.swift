// Assignments, hand-ins, regrades, adjustments and the gradebook.
import Grading
import Vapor

enum GradingArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.signedIn.post(.courseAssignments(.key), use: AssignmentPageController.create)
        pages.signedIn.get(.gradebook(.key), use: AssignmentPageController.gradebook)
        pages.signedIn.get(.myGrades(.key), use: AssignmentPageController.myGrades)
        pages.signedIn.get(.assignment(.key), use: AssignmentPageController.page)
        pages.signedIn.post(.assignment(.key), use: AssignmentPageController.update)
        pages.signedIn.on(.POST, .autograder(.key), body: .collect(maxSize: "51mb"), use: AssignmentPageController.uploadAutograder)
        pages.signedIn.on(.POST, .handIn(.key), body: .collect(maxSize: Submissions.maxUploadBody), use: AssignmentPageController.submit)
        pages.signedIn.post(.regradeAssignment(.key), use: AssignmentPageController.regradeAll)
        pages.signedIn.post(.publishGrades(.key), use: AssignmentPageController.publish)
        pages.signedIn.get(.submission(.key), use: AssignmentPageController.submission)
        pages.signedIn.get(.submissionFiles(.key), use: AssignmentController.download)
        pages.signedIn.post(.regradeSubmission(.key), use: AssignmentPageController.regrade)
        pages.signedIn.post(.adjustments(.key), use: AssignmentPageController.adjust)
    }

    static func api(_ api: APIRoutes) {
        let uploads = HTTPBodyStreamStrategy.collect(maxSize: Submissions.maxUploadBody)
        // An assignment's JSON: instructions of up to 100,000 characters may take 12 bytes each once escaped
        // (\uXXXX pairs), so the default 1 MB would refuse a body the document allows.
        let assignmentBody = HTTPBodyStreamStrategy.collect(maxSize: "4mb")

        api.on(.GET, "courses/:courseID/assignments", id: "listAssignments", summary: "The course's assignments (students: released ones).",
               tag: "grading", response: .list(AssignmentDTO.self), errors: [404: "No such course, or not yours to see."], use: AssignmentController.list)
        api.on(.POST, "courses/:courseID/assignments", id: "createAssignment",
               summary: "Create an assignment (instructors). kind gradescope takes its zip at PUT …/autograder; kind classroom needs classroomTests (autograding.json's text). Times are ISO 8601 or YYYY-MM-DDTHH:MM (UTC); latePolicy is none, hard or penalty:N.",
               tag: "grading", request: .input(AssignmentInput.self), response: .one(AssignmentDTO.self), status: 201,
               errors: [404: "No such course, or not yours to manage.", 413: "The body is over 4 MB."], body: assignmentBody, use: AssignmentController.create)
        api.on(.GET, "assignments/:assignmentID", id: "getAssignment", summary: "One assignment (the set-up log and tests for staff only).", tag: "grading",
               response: .one(AssignmentDTO.self), errors: [404: "No such assignment, or not yours to see."], use: AssignmentController.show)
        api.on(.PATCH, "assignments/:assignmentID", id: "changeAssignment", summary: "Change the fields given (instructors).", tag: "grading",
               request: .input(AssignmentInput.self, required: []), response: .one(AssignmentDTO.self),
               errors: [404: "No such assignment, or not yours to manage.", 413: "The body is over 4 MB."], body: assignmentBody, use: AssignmentController.update)
        api.on(.PUT, "assignments/:assignmentID/autograder", id: "uploadAutograder",
               summary: "Upload a Gradescope autograder zip (body application/zip, at most 50 MB; setup.sh and run_autograder at its root). Its setup.sh then runs once, with network; setupStatus and setupLog say how it went.",
               tag: "grading", request: .body(.string(format: "binary"), as: "application/zip"), response: .one(AssignmentDTO.self),
               errors: [404: "No such assignment, or not yours to manage.", 413: "The zip is over 50 MB.", 422: "The zip was refused; the message says why."],
               body: .collect(maxSize: "51mb"), use: AssignmentController.uploadAutograder)
        api.on(.POST, "assignments/:assignmentID/publish", id: "publishGrades",
               summary: "Publish (or withdraw) grades: results marked after_published become visible to students.", tag: "grading",
               request: .input(AssignmentController.PublishInput.self), response: .one(AssignmentDTO.self),
               errors: [404: "No such assignment, or not yours to manage."], use: AssignmentController.publish)
        api.on(.POST, "assignments/:assignmentID/submissions", id: "submit",
               summary: "Hand in (multipart/form-data): files in a field named files (one or more, or one .zip; 10 MB). Credits for the run are reserved first. Course staff hand in test runs, charged to the course.",
               tag: "grading", request: .body(.object(["files": .array(.string(format: "binary"))], required: ["files"]), as: "multipart/form-data"),
               response: .one(SubmissionDTO.self), status: 201,
               errors: [404: "No such assignment, or not yours.", 409: "Refused: deadline, maximum reached, autograder not ready, or not enough credits (the message says who can raise them).",
                        413: "Over 12 MB.", 415: "Not multipart/form-data.", 422: "The files were refused (missing required files, a bad zip); the message says why."],
               body: uploads, use: AssignmentController.submit)
        api.on(.GET, "assignments/:assignmentID/submissions", id: "listSubmissions",
               summary: "Submissions, newest first: your own, or (staff) everyone's; ?page=&per=.", tag: "grading",
               response: .page(SubmissionDTO.self),
               errors: [404: "No such assignment, or not yours to see."], use: AssignmentController.submissions)
        api.on(.POST, "assignments/:assignmentID/regrade", id: "regradeAssignment",
               summary: "Regrade every finished submission with the current autograder (staff; charged to the course).", tag: "grading",
               response: .one(Grades.RegradeProgress.self), errors: [404: "No such assignment, or not yours to grade.", 409: "The autograder is not ready, or the course's credits ran out."],
               use: AssignmentController.regradeAll)
        api.on(.GET, "assignments/:assignmentID/regrade", id: "getRegradeProgress", summary: "How many submissions are still waiting to be graded.",
               tag: "grading", response: .one(Grades.RegradeProgress.self), errors: [404: "No such assignment, or not yours to grade."], use: AssignmentController.regradeProgress)
        api.on(.GET, "submissions/:submissionID", id: "getSubmission",
               summary: "One submission as you may see it (Gradescope's visibility rules; staff see everything and the run's log).", tag: "grading",
               response: .one(SubmissionDTO.self), errors: [404: "No such submission, or not yours to see."], use: AssignmentController.submission)
        api.on(.GET, "submissions/:submissionID/files.zip", id: "downloadSubmission",
               summary: "The handed-in files as one zip (application/zip): for their owner and the course staff.", tag: "grading",
               errors: [404: "No such submission, or not yours to see."], use: AssignmentController.download)
        api.on(.POST, "submissions/:submissionID/regrade", id: "regradeSubmission", summary: "Grade this submission again (staff).", tag: "grading",
               response: .one(SubmissionDTO.self), errors: [404: "No such submission, or not yours to grade.", 409: "It is already waiting, or there are no credits."],
               use: AssignmentController.regrade)
        api.on(.POST, "submissions/:submissionID/adjustments", id: "adjustScore",
               summary: "Add points (or take them away) with a comment (staff). Adjustments are kept apart from the autograder's score and never edited.",
               tag: "grading", request: .input(Grades.AdjustmentInput.self),
               response: .one(SubmissionDTO.self), status: 201, errors: [404: "No such submission, or not yours to grade."], use: AssignmentController.adjust)
        api.on(.GET, "courses/:courseID/gradebook", id: "getGradebook",
               summary: "Students × assignments: the counted attempt (latest or best) after adjustments and late penalties (staff); a page of the students in name order, ?page=&per= (default 50, at most 500), with metadata.total.", tag: "grading",
               response: .one(GradebookData.self), errors: [404: "No such course, or not yours to grade."], use: AssignmentController.gradebook)
        api.on(.GET, "courses/:courseID/gradebook/:userID", id: "getStudentGrades", summary: "One student's grades (staff).", tag: "grading",
               response: .one(GradebookData.self), errors: [404: "No such course, or not yours to grade."], use: AssignmentController.studentGrades)
        api.on(.GET, "courses/:courseID/grades", id: "getMyGrades",
               summary: "Your own grades in the course, as you may see them (scores hidden by the autograder's visibility stay hidden).",
               tag: "grading", response: .list(Grades.MyGrade.self),
               errors: [404: "No such course, or not yours."], use: AssignmentController.myGrades)
        api.on(.GET, "courses/:courseID/gradebook.csv", id: "getGradebookCSV",
               summary: "The gradebook as the CSV Canvas imports (Student, ID, SIS User ID, SIS Login ID = email, Section, one column per assignment).",
               tag: "grading", errors: [404: "No such course, or not yours to grade."], use: AssignmentController.gradebookCSV)
    }
}
