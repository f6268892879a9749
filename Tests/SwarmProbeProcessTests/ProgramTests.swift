import Foundation
import SwarmProbeProcess
import Testing

@Suite("running programs")
struct ProgramTests {
    @Test("stdout back, input in, a non-zero exit as one line naming the command and what it said")
    func runAndFail() throws {
        #expect(try Program.run(["sh", "-c", "cat; echo -n ' and out'"], input: "in") == "in and out")
        do {
            try Program.run(["sh", "-c", "echo first >&2; echo second >&2; exit 3"])
            Issue.record("a failing command did not throw")
        } catch {
            #expect(error.status == 3)
            #expect(error.description == "`sh -c echo first >&2; echo second >&2; exit 3` exited 3: first / second")
        }
        let missing = #expect(throws: ProgramError.self) { try Program.run(["no-such-program-here"]) }
        #expect(missing?.description == "`no-such-program-here` failed: no-such-program-here is not installed (not on PATH)")
    }

    @Test("capture gives status and both outputs whatever the status; a timeout kills and says so")
    func captureAndTimeout() throws {
        let out = try Program.capture(["sh", "-c", "echo out; echo err >&2; exit 5"])
        #expect(out.status == 5 && out.stdout == "out\n" && out.stderr == "err\n" && !out.timedOut)
        let slow = try Program.capture(["sleep", "30"], timeout: 0.2)
        #expect(slow.timedOut && slow.status == 128 + SIGKILL && slow.stderr.contains("killed after 0.2 s"))
    }

    @Test("the environment is the one given, when given")
    func environment() throws {
        #expect(try Program.run(["sh", "-c", "echo $SWARMPROBE_T"], environment: ["SWARMPROBE_T": "x", "PATH": "/usr/bin:/bin"]) == "x\n")
    }

    @Test("a child holds no file descriptor of this process but its three standard ones")
    func noInheritedDescriptors() throws {
        let fd = open("/dev/null", O_RDONLY)  // not close-on-exec
        #expect(fd > 2)
        defer { close(fd) }
        let fds = try Program.run(["ls", "/proc/self/fd"]).split(separator: "\n").compactMap { Int($0) }
        // 0, 1, 2, and 3: the directory `ls` opened to list them (the lowest free number, had nothing else come along).
        #expect(fds.sorted() == [0, 1, 2, 3], "\(fds)")
    }

    @Test("a child started and stopped: SIGTERM first, SIGKILL after the grace")
    func terminate() throws {
        let child = try ChildProcess(["sleep", "30"])
        #expect(child.isRunning)
        #expect(child.terminate(grace: 1).status == 128 + SIGTERM)
        let stubborn = try ChildProcess(["sh", "-c", "trap '' TERM; sleep 30"])
        usleep(100_000)
        #expect(stubborn.terminate(grace: 0.3).status == 128 + SIGKILL)
    }

    @Test("stdin as a pipe: the child reads what is written, sees its end when closed; a file as stdin")
    func stdinPipe() throws {
        let dir = NSTemporaryDirectory() + "swarmprobe-pipe-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let child = try ChildProcess(
            ["sh", "-c", "read line; echo \"got $line\"; cat >/dev/null; echo ended"], stdin: .pipe, stdout: .file(dir + "/out"))
        let input = try #require(child.input)
        try input.write(contentsOf: Data("secret\n".utf8))
        usleep(200_000)
        #expect(child.isRunning, "waits for the end of its input")
        try input.close()
        #expect(child.wait().status == 0)
        #expect(try String(contentsOfFile: dir + "/out", encoding: .utf8) == "got secret\nended\n")
        try "from a file".write(toFile: dir + "/in", atomically: true, encoding: .utf8)
        #expect(try Program.capture(["cat"], stdinFile: dir + "/in").stdout == "from a file")
        #expect(try ChildProcess(["true"]).input == nil)
    }

    @Test(
        "quoted as a shell reads it back",
        arguments: [
            ("plain-word_1.2:3=4@5,6+7%", "plain-word_1.2:3=4@5,6+7%"), ("two words", "'two words'"), ("it's", "'it'\\''s'"), ("", "''"),
            ("$HOME", "'$HOME'"),
        ])
    func quoting(text: String, quoted: String) throws {
        #expect(Program.shellQuoted(text) == quoted)
        #expect(try Program.run(["sh", "-c", "printf %s " + Program.shellQuoted(text)]) == text)
    }
}
