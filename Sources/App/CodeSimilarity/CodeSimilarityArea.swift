// Code similarity: an assignment's similarity checks, for its graders. It reads the grading area's hand-ins and
// nothing uses it.
import Vapor

enum CodeSimilarityArea: PlatformArea {
    static func pages(_ pages: PageRoutes) {
        pages.signedIn.get(.assignmentSimilarity(.key), use: SimilarityController.page)
        pages.signedIn.post(.assignmentSimilarity(.key), use: SimilarityController.startFromPage)
        pages.signedIn.on(.POST, .assignmentStarter(.key), body: .collect(maxSize: SimilarityChecks.maxStarterBody), use: SimilarityController.starterFromPage)
        pages.signedIn.get(.similarityCheck(.key), use: SimilarityController.checkPage)
        pages.signedIn.get(.similarityPair(.key), use: SimilarityController.pairPage)
    }

    static func api(_ api: APIRoutes) {
        let notYours = "No such assignment, or not yours to grade."
        api.on(.GET, "assignments/:assignmentID/similarity-checks", id: "listSimilarityChecks",
               summary: "The assignment's code similarity checks, newest first (graders).",
               tag: "grading", response: .page(SimilarityCheckDTO.self), errors: [404: notYours], use: SimilarityController.list)
        api.on(.POST, "assignments/:assignmentID/similarity-checks", id: "startSimilarityCheck",
               summary: "Queue a code similarity check of each student's latest hand-in (graders): token fingerprints (Python, C/C++, Java, JavaScript; names and literals normalised), the assignment's starter code and fragments in most hand-ins left out; earlierAssignmentIDs (from listSimilaritySources, at most 5) add earlier offerings' hand-ins as one-way sources. It measures likeness, not misconduct.",
               tag: "grading", request: .input(SimilarityCheckInput.self, required: []), response: .one(SimilarityCheckDTO.self), status: 202,
               errors: [404: notYours, 409: "A check of this assignment is already waiting or running.",
                        422: "An earlier assignment is not one you may use (listSimilaritySources), or more than 5."],
               use: SimilarityController.start)
        api.on(.GET, "assignments/:assignmentID/similarity-sources", id: "listSimilaritySources",
               summary: "Earlier offerings' assignments a check may compare with (graders): the same programme's courses with this course's code that started earlier and that you grade; same titles first.",
               tag: "grading", response: .list(SimilaritySourceDTO.self), errors: [404: notYours], use: SimilarityController.sources)
        api.on(.GET, "assignments/:assignmentID/starter-code", id: "getStarterCode",
               summary: "The starter code handed out with the assignment (graders): its file names; similarity checks leave it out.",
               tag: "grading", response: .one(StarterCodeDTO.self), errors: [404: notYours], use: SimilarityController.starter)
        api.on(.PUT, "assignments/:assignmentID/starter-code", id: "uploadStarterCode",
               summary: "Store the assignment's starter code (graders): a zip as the body (application/zip, at most 10 MB); an empty body removes it. Checks started later leave it out.",
               tag: "grading", request: .body(.string(format: "binary"), as: "application/zip"), response: .one(StarterCodeDTO.self),
               errors: [404: notYours, 413: "The zip is over 10 MB.", 422: "The zip was refused; the message says why."],
               body: .collect(maxSize: SimilarityChecks.maxStarterBody), use: SimilarityController.setStarter)
        api.on(.GET, "similarity-checks/:checkID", id: "getSimilarityCheck",
               summary: "One similarity check (graders of its course): status, counts, the histogram of pair similarity by tenths, clusters of students. An earlier offering's student is named only to those who grade that course.",
               tag: "grading", response: .one(SimilarityCheckDTO.self), errors: [404: "No such check, or not yours to grade."], use: SimilarityController.show)
        api.on(.GET, "similarity-checks/:checkID/pairs", id: "listSimilarityPairs",
               summary: "The check's pairs, most similar first (the 500 most similar are kept): similarity (shared fingerprints over the smaller hand-in's), each side's share, the longest shared run in tokens.",
               tag: "grading", response: .page(SimilarityPairDTO.self), errors: [404: "No such check, or not yours to grade."], use: SimilarityController.pairs)
        api.on(.GET, "similarity-pairs/:pairID", id: "getSimilarityPair",
               summary: "One pair with its shared passages, longest first: file and lines in each hand-in (b's only for those who may see it).",
               tag: "grading", response: .one(SimilarityPairDTO.self), errors: [404: "No such pair, or not yours to grade."], use: SimilarityController.pair)
    }
}

extension SimilarityCheckInput: APIInput {
    static let schema = JSONSchema.object(["earlierAssignmentIDs": .array(.string(format: "uuid"))], required: [])
}

extension SimilarityHandIn {
    static let schema = JSONSchema.object([
        "submissionID": .string(format: "uuid"), "userID": .string(format: "uuid"), "name": .string(), "course": .string(), "attempt": .integer(),
        "earlier": .boolean,
    ], required: ["name", "course", "earlier"])
    static let sample = SimilarityHandIn(submissionID: Sample.id, userID: Sample.id, name: "Ada", course: "CS101 (Fall 2026)", attempt: 2, earlier: false)
}

extension SimilarityCheckDTO: APIBody {
    static let schemaName = "SimilarityCheck"
    static let schema = JSONSchema.object([
        "id": .string(format: "uuid"), "assignmentID": .string(format: "uuid"), "status": .choice(SimilarityCheckStatus.self), "requestedBy": .string(),
        "earlierAssignmentIDs": .array(.string(format: "uuid")), "handIns": .integer(), "earlierHandIns": .integer(), "truncated": .integer(),
        "starterFiles": .integer(), "starterFingerprints": .integer(), "commonFingerprints": .integer(), "pairsFound": .integer(), "pairsKept": .integer(),
        "histogram": .array(.integer()), "clusters": .array(.array(SimilarityHandIn.schema)), "clusterThreshold": .number(minimum: 0, maximum: 1),
        "problem": .string(), "createdAt": .string(format: "date-time"), "startedAt": .string(format: "date-time"), "finishedAt": .string(format: "date-time"),
    ], required: ["id", "assignmentID", "status", "requestedBy", "earlierAssignmentIDs", "handIns", "earlierHandIns", "truncated", "starterFiles",
                  "starterFingerprints", "commonFingerprints", "pairsFound", "pairsKept", "histogram", "clusters", "clusterThreshold", "createdAt"])
    static var samples: [SimilarityCheckDTO] {
        [SimilarityCheckDTO(id: Sample.id, assignmentID: Sample.id, status: "done", requestedBy: "Grace", earlierAssignmentIDs: [Sample.id], handIns: 30,
                            earlierHandIns: 28, truncated: 0, starterFiles: 1, starterFingerprints: 40, commonFingerprints: 12, pairsFound: 310, pairsKept: 310,
                            histogram: [250, 40, 12, 4, 2, 1, 0, 1, 0, 0], clusters: [[SimilarityHandIn.sample, SimilarityHandIn.sample]], clusterThreshold: 0.6,
                            problem: "There are 4,000 hand-ins to compare.", createdAt: Sample.date, startedAt: Sample.date, finishedAt: Sample.date)]
    }
}

extension SimilarityPairDTO: APIBody {
    static let schemaName = "SimilarityPair"
    static var schema: JSONSchema {
        let span = JSONSchema.object(["file": .string(), "firstLine": .integer(), "lastLine": .integer()], required: ["file", "firstLine", "lastLine"])
        return .object([
            "id": .string(format: "uuid"), "checkID": .string(format: "uuid"), "rank": .integer(), "a": SimilarityHandIn.schema, "b": SimilarityHandIn.schema,
            "similarity": .number(minimum: 0, maximum: 1), "shareOfA": .number(minimum: 0, maximum: 1), "shareOfB": .number(minimum: 0, maximum: 1),
            "sharedFingerprints": .integer(), "longestRun": .integer(),
            "passages": .array(.object(["tokens": .integer(), "a": span, "b": span], required: ["tokens", "a"])),
        ], required: ["id", "checkID", "rank", "a", "b", "similarity", "shareOfA", "shareOfB", "sharedFingerprints"])
    }
    static var samples: [SimilarityPairDTO] {
        let span = Span(file: "main.py", firstLine: 3, lastLine: 20)
        return [SimilarityPairDTO(id: Sample.id, checkID: Sample.id, rank: 1, a: SimilarityHandIn.sample, b: SimilarityHandIn.sample, similarity: 0.82,
                                  shareOfA: 0.8, shareOfB: 0.82, sharedFingerprints: 41, longestRun: 120, passages: [Passage(tokens: 120, a: span, b: span)])]
    }
}

extension SimilaritySourceDTO: APIBody {
    static let schemaName = "SimilaritySource"
    static let schema = JSONSchema.object([
        "assignmentID": .string(format: "uuid"), "title": .string(), "courseID": .string(format: "uuid"), "course": .string(),
        "startsOn": .string(format: "date-time"), "sameTitle": .boolean,
    ], required: ["assignmentID", "title", "courseID", "course", "startsOn", "sameTitle"])
    static var samples: [SimilaritySourceDTO] {
        [SimilaritySourceDTO(assignmentID: Sample.id, title: "Loops", courseID: Sample.id, course: "CS101 (Fall 2025)", startsOn: Sample.date, sameTitle: true)]
    }
}

extension StarterCodeDTO: APIBody {
    static let schemaName = "StarterCode"
    static let schema = JSONSchema.object([
        "assignmentID": .string(format: "uuid"), "files": .array(.string()), "uploadedAt": .string(format: "date-time"), "uploadedBy": .string(),
    ], required: ["assignmentID", "files"])
    static var samples: [StarterCodeDTO] { [StarterCodeDTO(assignmentID: Sample.id, files: ["main.py"], uploadedAt: Sample.date, uploadedBy: "Grace")] }
}
