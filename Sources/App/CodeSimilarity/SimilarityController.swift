// Code similarity for an assignment's graders: decode → authorise (`Policy.Action.grade` on the assignment's course;
// anyone else is answered 404, as for an assignment they may not see) → call `SimilarityChecks` → encode.
import Fluent
import Foundation
import Similarity
import Vapor

enum SimilarityController {
    // MARK: API

    /// GET /api/v1/assignments/:assignmentID/similarity-checks
    @Sendable static func list(req: Request) async throws -> Page<SimilarityCheckDTO> {
        let found = try await req.assignment(for: Policy.Action.grade)
        let page = try await SimilarityViews.listed(CodeSimilarityCheck.query(on: req.db).filter(\.$assignment.$id == found.assignment.requireID()))
            .sort(\.$createdAt, .descending).paginate(for: req)
        let views = try await SimilarityViews.checks(page.items, reader: found, clusters: false, on: req.db)
        return Page(items: views, metadata: page.metadata)
    }

    /// POST /api/v1/assignments/:assignmentID/similarity-checks
    @Sendable static func start(req: Request) async throws -> Response {
        let found = try await req.assignment(for: Policy.Action.grade)
        let check = try await SimilarityChecks.start(found, try req.input(SimilarityCheckInput.self), app: req.application, db: req.db)
        return try await SimilarityViews.checks([check], reader: found, on: req.db)[0].encodeResponse(status: .accepted, for: req)
    }

    /// GET /api/v1/assignments/:assignmentID/similarity-sources
    @Sendable static func sources(req: Request) async throws -> [SimilaritySourceDTO] {
        try await SimilarityChecks.sources(try await req.assignment(for: Policy.Action.grade), on: req.db)
    }

    /// GET /api/v1/similarity-checks/:checkID
    @Sendable static func show(req: Request) async throws -> SimilarityCheckDTO {
        let (check, found) = try await req.similarityCheck()
        return try await SimilarityViews.checks([check], reader: found, on: req.db)[0]
    }

    /// GET /api/v1/similarity-checks/:checkID/pairs
    @Sendable static func pairs(req: Request) async throws -> Page<SimilarityPairDTO> {
        let (check, found) = try await req.similarityCheck()
        let page = try await CodeSimilarityPair.query(on: req.db).filter(\.$check.$id == check.requireID()).sort(\.$rank).paginate(for: req)
        return Page(items: try await SimilarityViews.pairs(page.items, reader: found, on: req.db), metadata: page.metadata)
    }

    /// GET /api/v1/similarity-pairs/:pairID
    @Sendable static func pair(req: Request) async throws -> SimilarityPairDTO {
        let (pair, check, found) = try await req.similarityPair()
        return try await SimilarityViews.sideBySide(pair, check, reader: found, on: req.db).pair
    }

    /// GET /api/v1/assignments/:assignmentID/starter-code
    @Sendable static func starter(req: Request) async throws -> StarterCodeDTO {
        try await SimilarityChecks.starterView(try await req.assignment(for: Policy.Action.grade), on: req.db)
    }

    /// PUT /api/v1/assignments/:assignmentID/starter-code with the zip as the body (an empty body removes it).
    @Sendable static func setStarter(req: Request) async throws -> StarterCodeDTO {
        let found = try await req.assignment(for: Policy.Action.grade)
        return try await SimilarityChecks.setStarter(found, zip: req.body.data.map { Data(buffer: $0) } ?? Data(), at: req.now, writes: req.writes, on: req.db)
    }

    // MARK: Pages

    @Sendable static func page(req: Request) async throws -> View {
        try await render(req, try await req.assignment(for: Policy.Action.grade), PageContext(req))
    }

    static func render(_ req: Request, _ found: AssignmentInContext, _ page: PageContext) async throws -> View {
        let number = Pager.number(req), assignmentID = try found.assignment.requireID()
        let query = CodeSimilarityCheck.query(on: req.db).filter(\.$assignment.$id == assignmentID)
        let total = try await query.count()
        let checks = try await SimilarityViews.listed(query).sort(\.$createdAt, .descending).range(((number - 1) * Pager.perPage)..<(number * Pager.perPage)).all()
        return try await req.view.render("similarity", SimilarityPage(
            page: page, found: found, checks: try await SimilarityViews.checks(checks, reader: found, clusters: false, on: req.db),
            sources: try await SimilarityChecks.sources(found, on: req.db), starter: try await SimilarityChecks.starterView(found, on: req.db),
            pageNumber: number, total: total))
    }

    /// The page's "Run a check".
    @Sendable static func startFromPage(req: Request) async throws -> Response {
        let found = try await req.assignment(for: Policy.Action.grade)
        return try await req.formAction(back: .assignmentSimilarity(.id(try found.assignment.requireID())), render: { try await render(req, found, $0) }) {
            _ = try await SimilarityChecks.start(found, try req.input(SimilarityCheckInput.self), app: req.application, db: req.db)
            return "The check is queued; its results appear below when it is done."
        }
    }

    /// The page's starter code form: a zip, or "remove".
    @Sendable static func starterFromPage(req: Request) async throws -> Response {
        let found = try await req.assignment(for: Policy.Action.grade)
        return try await req.formAction(back: .assignmentSimilarity(.id(try found.assignment.requireID())), at: "starter",
                                        render: { try await render(req, found, $0) }) {
            let form = try MultipartForm(req)
            if form?.text("remove") == "true" {
                _ = try await SimilarityChecks.setStarter(found, zip: Data(), at: req.now, writes: req.writes, on: req.db)
                return "The starter code is removed; later checks leave nothing out as starter code."
            }
            guard let zip = form?.all(named: "zip").first, !zip.data.isEmpty else { throw InputRejection("Choose the zip of starter code to upload.") }
            let starter = try await SimilarityChecks.setStarter(found, zip: zip.data, at: req.now, writes: req.writes, on: req.db)
            return "Stored \(starter.files.count) starter files; later checks leave them out."
        }
    }

    @Sendable static func checkPage(req: Request) async throws -> View {
        let (check, found) = try await req.similarityCheck()
        let number = Pager.number(req)
        let pairs = try await CodeSimilarityPair.query(on: req.db).filter(\.$check.$id == check.requireID()).sort(\.$rank)
            .range(((number - 1) * Pager.perPage)..<(number * Pager.perPage)).all()
        return try await req.view.render("similarity-check", SimilarityCheckPage(
            page: PageContext(req), found: found, check: try await SimilarityViews.checks([check], reader: found, on: req.db)[0],
            pairs: try await SimilarityViews.pairs(pairs, reader: found, on: req.db), pageNumber: number))
    }

    @Sendable static func pairPage(req: Request) async throws -> View {
        let (pair, check, found) = try await req.similarityPair()
        let shown = try await SimilarityViews.sideBySide(pair, check, reader: found, on: req.db)
        return try await req.view.render("similarity-pair", SimilarityPairPage(page: PageContext(req), found: found, shown: shown))
    }
}

extension Request {
    /// The check named by `:checkID` and its assignment; 404 unless the caller grades the assignment's course.
    func similarityCheck() async throws -> (CodeSimilarityCheck, AssignmentInContext) {
        guard let id = parameters.get("checkID", as: UUID.self), let check = try await CodeSimilarityCheck.find(id, on: db) else { throw Abort(.notFound) }
        return (check, try await assignment(check.$assignment.id, for: Policy.Action.grade))
    }

    /// The pair named by `:pairID`, its check and assignment; 404 unless the caller grades the assignment's course.
    func similarityPair() async throws -> (CodeSimilarityPair, CodeSimilarityCheck, AssignmentInContext) {
        guard let id = parameters.get("pairID", as: UUID.self), let pair = try await CodeSimilarityPair.find(id, on: db),
              let check = try await CodeSimilarityCheck.find(pair.$check.id, on: db) else { throw Abort(.notFound) }
        return (pair, check, try await assignment(check.$assignment.id, for: Policy.Action.grade))
    }
}

/// Checks and pairs as a reader sees them: who each hand-in is (an earlier offering's student only for those who
/// grade that course too), in a fixed number of queries per list.
enum SimilarityViews {
    /// A list of checks reads every column but the hashes left out (a check's own, up to a few hundred KB).
    static func listed(_ query: QueryBuilder<CodeSimilarityCheck>) -> QueryBuilder<CodeSimilarityCheck> {
        query.field(\.$id).field(\.$assignment.$id).field(\.$requestedBy.$id).field(\.$status).field(\.$earlierAssignments).field(\.$queueJobID)
            .field(\.$problem).field(\.$handIns).field(\.$earlierHandIns).field(\.$truncated).field(\.$starterFiles).field(\.$starterFingerprints)
            .field(\.$commonFingerprints).field(\.$pairsFound).field(\.$histogram).field(\.$clusters).field(\.$createdAt).field(\.$startedAt)
            .field(\.$finishedAt)
    }

    /// Checks as the reader sees them; `clusters: false` (lists) leaves their groups of students out.
    static func checks(_ checks: [CodeSimilarityCheck], reader: AssignmentInContext, clusters withClusters: Bool = true,
                       on db: any Database) async throws -> [SimilarityCheckDTO] {
        let clusters = checks.map { withClusters ? (try? JSONDecoder().decode([[String]].self, from: Data($0.clusters.utf8))) ?? [] : [] }
        let members = Set(clusters.flatMap { $0.flatMap { $0 } }.compactMap(UUID.init(uuidString:)))
        let names = try await HandInNames.load(members, reader: reader, on: db)
        let requesters = Dictionary(uniqueKeysWithValues: try await User.query(on: db).filter(\.$id ~~ Set(checks.map { $0.$requestedBy.id })).all()
            .map { ($0.id!, $0.displayName) })
        return try zip(checks, clusters).map { check, groups in
            SimilarityCheckDTO(
                id: try check.requireID(), assignmentID: check.$assignment.id, status: check.status.rawValue,
                requestedBy: requesters[check.$requestedBy.id] ?? "?", earlierAssignmentIDs: check.earlierAssignmentIDs,
                handIns: check.handIns, earlierHandIns: check.earlierHandIns, truncated: check.truncated, starterFiles: check.starterFiles,
                starterFingerprints: check.starterFingerprints, commonFingerprints: check.commonFingerprints, pairsFound: check.pairsFound,
                pairsKept: min(check.pairsFound, SimilarityChecks.keptPairs),
                histogram: (try? JSONDecoder().decode([Int].self, from: Data(check.histogram.utf8))) ?? [],
                clusters: groups.map { $0.compactMap { UUID(uuidString: $0).flatMap { names.of[$0] } } }, clusterThreshold: SimilarityChecks.clusterThreshold,
                problem: check.problem, createdAt: check.createdAt, startedAt: check.startedAt, finishedAt: check.finishedAt)
        }
    }

    static func pairs(_ pairs: [CodeSimilarityPair], reader: AssignmentInContext, on db: any Database) async throws -> [SimilarityPairDTO] {
        let names = try await HandInNames.load(Set(pairs.flatMap { [$0.aSubmissionID, $0.bSubmissionID] }), reader: reader, on: db)
        return try pairs.map { pair in
            SimilarityPairDTO(id: try pair.requireID(), checkID: pair.$check.id, rank: pair.rank, a: names.named(pair.aSubmissionID),
                              b: names.named(pair.bSubmissionID), similarity: pair.similarity, shareOfA: pair.shareOfA, shareOfB: pair.shareOfB,
                              sharedFingerprints: pair.sharedFingerprints, longestRun: pair.longestRun)
        }
    }

    /// One pair with its shared passages (laid out again from the two hand-ins and what the check left out), and the
    /// files to show: b's only when the reader may see them.
    static func sideBySide(_ pair: CodeSimilarityPair, _ check: CodeSimilarityCheck, reader: AssignmentInContext,
                           on db: any Database) async throws -> (pair: SimilarityPairDTO, a: [SourceFile], b: [SourceFile]?) {
        var dto = try await pairs([pair], reader: reader, on: db)[0]
        let files = try await SimilarityChecks.sources(of: [pair.aSubmissionID, pair.bSubmissionID], on: db)
        let (a, b) = (files[pair.aSubmissionID] ?? [], files[pair.bSubmissionID] ?? [])
        let matches = SimilarityCheck().matches(.init(id: "a", files: a), .init(id: "b", files: b, earlier: pair.bIsEarlier),
                                                leavingOut: SimilarityChecks.hashes(check.leftOut))
        let visible = dto.b.userID != nil
        dto.passages = matches.passages.map { passage in
            .init(tokens: passage.tokens, a: .init(file: passage.a.file, firstLine: passage.a.first, lastLine: passage.a.last),
                  b: visible ? .init(file: passage.b.file, firstLine: passage.b.first, lastLine: passage.b.last) : nil)
        }
        return (dto, a.sorted { $0.name < $1.name }, visible ? b.sorted { $0.name < $1.name } : nil)
    }
}

/// Who handed in each submission, as the reader may see it: four queries (and one per earlier course) whatever the count.
struct HandInNames {
    var of: [UUID: SimilarityHandIn] = [:]

    func named(_ id: UUID) -> SimilarityHandIn {
        of[id] ?? SimilarityHandIn(submissionID: nil, name: "a hand-in since deleted", course: "", attempt: nil, earlier: false)
    }

    static func load(_ ids: Set<UUID>, reader: AssignmentInContext, on db: any Database) async throws -> HandInNames {
        guard !ids.isEmpty else { return HandInNames() }
        var submissions: [Submission] = []
        let all = Array(ids)
        for chunk in stride(from: 0, to: all.count, by: 1_000) {
            submissions += try await Submission.query(on: db).filter(\.$id ~~ Array(all[chunk..<min(chunk + 1_000, all.count)]))
                .field(\.$id).field(\.$assignment.$id).field(\.$user.$id).field(\.$attempt).all()
        }
        let assignments = try await Assignment.query(on: db).filter(\.$id ~~ Set(submissions.map { $0.$assignment.id })).field(\.$id).field(\.$course.$id).all()
        let courseOf = Dictionary(uniqueKeysWithValues: assignments.map { ($0.id!, $0.$course.id) })
        let courses = Dictionary(uniqueKeysWithValues: try await Course.query(on: db).filter(\.$id ~~ Set(courseOf.values)).all().map { ($0.id!, $0) })
        let readerCourse = try reader.course.requireID()
        let others = courses.values.filter { $0.id != readerCourse }
        let visible = Set(try await SimilarityChecks.graded(others, by: reader.user, on: db).compactMap(\.id)).union([readerCourse])
        let users = Dictionary(uniqueKeysWithValues: try await User.query(on: db).filter(\.$id ~~ Set(submissions.map { $0.$user.id })).all().map { ($0.id!, $0) })
        var names = HandInNames()
        for submission in submissions {
            guard let courseID = courseOf[submission.$assignment.id], let course = courses[courseID] else { continue }
            let label = "\(course.code) (\(course.term))", seen = visible.contains(courseID)
            names.of[submission.id!] = SimilarityHandIn(
                submissionID: seen ? submission.id! : nil, userID: seen ? submission.$user.id : nil,
                name: seen ? (users[submission.$user.id]?.displayName ?? "?") : "A student of \(label)", course: label, attempt: seen ? submission.attempt : nil,
                earlier: submission.$assignment.id != reader.assignment.id)
        }
        return names
    }
}
