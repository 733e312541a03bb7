@testable import Drivers
import Foundation
import Testing

/// GenTD26's GPU files read by PSF-G's rules (section 2 of the protocol), each quirk counted.
@Suite struct GenTD26ReaderTests {
    static let t0 = GenTD26Reader.origin

    @Test func everyRuleOfTheProtocolIsAppliedInOrderAndCounted() throws {
        let files = TraceFiles()
        let a = String(repeating: "a", count: 32), b = String(repeating: "b", count: 32)
        // value,timestamp_anon,container_ip; timestamps as floats, off by a few seconds, out of order.
        files.write("pod_gpu_duty_cycle_anon.csv.gz", """
            value,timestamp_anon,container_ip
            10.5,\(Self.t0).0,\(a)
            20,\(Self.t0 + 57 + 3).4,\(a)
            99,\(Self.t0 + 57).0,\(a)
            7,\(Self.t0).0,
            8,nan,\(b)
            9,\(Self.t0 - 57).0,\(b)
            -0.5,\(Self.t0 + 2 * 57).0,\(b)
            inf,\(Self.t0 + 3 * 57).0,\(b)
            not-a-number,\(Self.t0 + 4 * 57).0,\(b)
            5,\(Self.t0 + 1_440 * 57).0,\(b)
            6,\(Self.t0 + 1_441 * 57).0,\(b)

            """)
        // Another column order, bytes divided into GiB.
        files.write("pod_gpu_memory_used_bytes_anon.csv", """
            timestamp_anon,value,container_ip
            \(Self.t0).0,2147483648.0,\(b)
            \(Self.t0 + 28).0,1073741824.0,\(b)

            """)
        let (trace, reports) = try GenTD26Reader().read(directory: files.root)
        #expect(trace.containers == [a, b])
        let util = try #require(reports["gpu_util"])
        #expect(util.rows == 11 && util.droppedEmptyContainer == 1 && util.droppedBadTimestamp == 1 && util.droppedOutsideGrid == 2)
        // The second row lands on instant 1 first: the third, also instant 1, is a duplicate and dropped.
        #expect(util.droppedDuplicateInstant == 1)
        #expect(util.missingNegative == 1 && util.missingNotFinite == 2)
        #expect(trace.utilisation[0][0] == 10.5 && trace.utilisation[0][1] == 20 && trace.utilisation[0][2].isNaN)
        #expect(trace.utilisation[1][2].isNaN && trace.utilisation[1][3].isNaN && trace.utilisation[1][4].isNaN && trace.utilisation[1][1_440] == 5)
        #expect(trace.utilisation[0].count == 1_441 && trace.utilisation[1].filter { !$0.isNaN }.count == 1)
        // 28 s is under half an instant: instant 0 again, a duplicate.
        let memory = try #require(reports["gpu_mem"])
        #expect(memory.rows == 2 && memory.droppedDuplicateInstant == 1)
        #expect(trace.memory[1][0] == 2 && trace.memory[0].allSatisfy(\.isNaN))
    }

    @Test func aFileWithoutItsColumnsOrAMisshapenRowIsAnErrorNamingFileAndLine() throws {
        let files = TraceFiles()
        files.write("pod_gpu_memory_used_bytes_anon.csv", "timestamp_anon,value,container_ip\n\(Self.t0),1,x\n")
        let util = files.write("pod_gpu_duty_cycle_anon.csv", "value,time,container_ip\n1,\(Self.t0),x\n")
        #expect(throws: TraceError(file: util, line: 1, message: "the header value,time,container_ip lacks value, timestamp_anon or container_ip")) {
            try GenTD26Reader().read(directory: files.root)
        }
        files.write("pod_gpu_duty_cycle_anon.csv", "value,timestamp_anon,container_ip\n1,\(Self.t0),x\n2,\(Self.t0 + 57)\n")
        #expect(throws: TraceError(file: util, line: 3, message: "expected 3 fields as in the header, found 2")) {
            try GenTD26Reader().read(directory: files.root)
        }
        let missing = TraceFiles()
        #expect(throws: TraceError.self) { try GenTD26Reader().read(directory: missing.root) }
    }

    static let developmentFolder = repositoryRoot + "/../shared/data/gentd26-gpu"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: developmentFolder + "/manifest.csv"), "../shared/data/gentd26-gpu is absent"))
    func theDevelopmentFolderReadsAsItsProtocolCountsIt() throws {
        let (trace, reports) = try GenTD26Reader().read(directory: Self.developmentFolder)
        // Section 2: 80 containers in both files, 85,294 and 88,057 rows, no rule touches any.
        #expect(trace.containers.count == 80)
        #expect(reports["gpu_util"]?.rows == 85_294 && reports["gpu_mem"]?.rows == 88_057)
        for report in reports.values {
            #expect(report.droppedEmptyContainer + report.droppedBadTimestamp + report.droppedOutsideGrid + report.droppedDuplicateInstant
                        + report.missingNotFinite + report.missingNegative == 0, "\(report)")
        }
        #expect(trace.utilisation.reduce(0) { $0 + $1.filter { !$0.isNaN }.count } == 85_294)
        #expect(trace.memory.joined().allSatisfy { $0.isNaN || ($0 >= 0 && $0 < 48) })
    }
}
