import Foundation

// `mesa mount --daemonize`: the process re-executes itself detached (posix_spawn with POSIX_SPAWN_SETSID; never
// `fork` after threads exist, DESIGN.md section 5) with MESA_DAEMON_CHILD set, its standard output a pipe back to the
// parent and its standard error the log file. The child writes one line once mounted ("ready: ...") or failed
// ("error: ..."), then points its standard output at the log file too; the parent prints that line and exits 0 or 1.

enum Daemon {
    /// Spawns the detached child and waits for its readiness line.
    static func spawn(configuration: MountConfiguration, arguments: [String]) throws {
        let logFile = configuration.logFile ?? configuration.stateDirectory + "/mesa-daemon.log"
        try FileManager.default.createDirectory(
            atPath: (logFile as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw MountFailure(description: "pipe failed: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        // A daemon keeps none of its starter's descriptors (a test harness or shell waiting on a pipe would otherwise
        // wait until the daemon exits): close every inherited descriptor above 2 in the child.
        let inherited = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [])
            .compactMap { Int32($0) }.filter { $0 > 2 }
        for descriptor in inherited where fcntl(descriptor, F_GETFD) >= 0 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID (glibc 2.26 and later, 0x80) is a macro the Glibc module does not export.
        posix_spawnattr_setflags(&attributes, 0x80)

        let executable = "/proc/self/exe"
        let childArguments = ["mesa"] + arguments.filter { $0 != "-d" && $0 != "--daemonize" }
        var environment = ProcessInfo.processInfo.environment
        environment["MESA_DAEMON_CHILD"] = "1"
        let argv = childArguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid = pid_t()
        let code = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(pipeEnds[1])
        guard code == 0 else {
            close(pipeEnds[0])
            throw MountFailure(description: "could not start the daemon: \(String(cString: strerror(code)))")
        }
        let line = ControlServer.readLine(pipeEnds[0]) ?? "error: the daemon exited before mounting; see \(logFile)"
        close(pipeEnds[0])
        if line.hasPrefix("ready: ") {
            print("\(line.dropFirst(7)) (daemon pid \(pid), log \(logFile))")
        } else {
            throw MountFailure(description: String(line.hasPrefix("error: ") ? line.dropFirst(7) : Substring(line)))
        }
    }

    /// In the child: reports success to the waiting parent, then sends standard output to the log file.
    static func reportReady(_ message: String, logFile: String) {
        write(line: "ready: \(message)")
        let descriptor = open(logFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        if descriptor >= 0 {
            dup2(descriptor, 1)
            close(descriptor)
        }
    }

    /// In the child: reports failure to the waiting parent.
    static func reportFailure(_ message: String) {
        write(line: "error: \(message)")
    }

    private static func write(line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress, $0.count) }
    }
}
