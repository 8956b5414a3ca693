#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension Datetime {
    /// The current wall-clock time in the preferred form (`YYYY-MM-DDTHH:MM:SS.sssZ`), e.g. for a
    /// label's `cts`. Read with `clock_gettime` so that this module needs no Foundation.
    public static func now() -> Datetime {
        Datetime(unixMicros: currentUnixMicros())
    }

    /// Microseconds since the Unix epoch according to the system's real-time clock.
    public static func currentUnixMicros() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1000
    }
}
