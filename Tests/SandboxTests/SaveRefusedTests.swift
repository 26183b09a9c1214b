// Which failures of a running job's save are put to its owner (files it made unreadable) and which are the host's,
// read from what the reading tar said.
import Testing
@testable import Sandbox

@Suite struct SaveRefusedTests {
    @Test func onlyFilesTheJobMayNotOpenAreItsOwners() {
        let denied = """
            /usr/bin/tar: ./locked.txt: Cannot open: Permission denied
            /usr/bin/tar: ./.terminal.sock: socket ignored
            /usr/bin/tar: ./log.txt: file changed as we read it
            /usr/bin/tar: ./notes/b: c.txt: Cannot open: Permission denied
            /usr/bin/tar: Exiting with failure status due to previous errors

            """
        // A name with ": " in it is cut at the last ": Cannot ", and warnings pass.
        #expect(SaveRefused.deniedFiles(denied, whole: true) == ["locked.txt", "notes/b: c.txt"])
        // The folder itself, by its host path, is not named to the person.
        #expect(SaveRefused.deniedFiles("tar: /var/lib/campuscloud/jobs/x: Cannot open: Permission denied\n", whole: true) == ["."])
        // Anything else that failed is the host's: a read error, a reader with nothing of the kind to say.
        #expect(SaveRefused.deniedFiles("tar: ./a: Cannot open: Permission denied\ntar: ./b: Read error at byte 0: Input/output error\ntar: ./c: Cannot stat: Input/output error\n", whole: true) == nil)
        #expect(SaveRefused.deniedFiles("tar: ./a: Cannot open: Permission denied\ntar: ./b: Read error at byte 0, while reading 512 bytes: Input/output error\n", whole: true) == nil)
        #expect(SaveRefused.deniedFiles("", whole: true) == nil)
        #expect(SaveRefused.deniedFiles("tar: ./.terminal.sock: socket ignored\n", whole: true) == nil)
        // Cut off (it said more than was kept): the last line, maybe cut, is not read as a whole.
        #expect(SaveRefused.deniedFiles("tar: ./a: Cannot open: Permission denied\ntar: ./b: Cannot open: Permission de", whole: false) == ["a"])
    }

    @Test func namesAreQuotedCutAndCounted() {
        #expect(SaveRefused.list(["a.txt"]) == #""a.txt""#)
        #expect(SaveRefused.list(["a", "b\"c", "d", "e", "f"]) == #""a", "b\"c", "d" and 2 more"#)
        #expect(SaveRefused.list([String(repeating: "x", count: 200)]) == "\"" + String(repeating: "x", count: 80) + "\"")
    }
}
