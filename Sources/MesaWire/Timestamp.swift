import Foundation

/// Mesa's timestamp text: ISO-8601 with an explicit offset (`+00:00`, never `Z`) and microseconds when present.
public enum Timestamp {
    /// Formats seconds since the epoch as `2024-01-02T03:04:05.123456+00:00` (or without a fraction when whole).
    /// - Parameter offsetMinutes: the zone to show the moment in, east of UTC (`+05:30` is 330): its local time is
    ///   written, followed by that offset, as git records author and committer dates.
    public static func format(_ seconds: Double, offsetMinutes: Int = 0) -> String {
        let whole = seconds.rounded(.down)
        var microseconds = Int(((seconds - whole) * 1_000_000).rounded())
        var wholeSeconds = Int(whole)
        if microseconds == 1_000_000 {
            wholeSeconds += 1
            microseconds = 0
        }
        var time = time_t(wholeSeconds + offsetMinutes * 60)
        var parts = tm()
        gmtime_r(&time, &parts)
        let date = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        let fraction = microseconds == 0 ? "" : String(format: ".%06d", microseconds)
        let zone = String(format: "%02d:%02d", abs(offsetMinutes) / 60, abs(offsetMinutes) % 60)
        return date + fraction + (offsetMinutes < 0 ? "-" : "+") + zone
    }

    /// Parses ISO-8601 with `Z`, an offset (`+02:00`, `+0200`) or no zone (naive, taken as UTC), and 0 to 9
    /// fraction digits.
    /// - Returns: seconds since the epoch, or `nil` when the text is not such a timestamp.
    public static func parse(_ text: String) -> Double? { parseKeepingOffset(text)?.seconds }

    /// Parses like ``parse(_:)``, keeping the text's offset.
    /// - Returns: seconds since the epoch and the offset east of UTC in minutes (0 for `Z` and naive text), or `nil`
    ///   when the text is not such a timestamp (an offset must be under 24 hours, its minutes under 60).
    public static func parseKeepingOffset(_ text: String) -> (seconds: Double, offsetMinutes: Int)? {
        let characters = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= characters.count else { return nil }
            var value = 0
            for index in range {
                let digit = Int(characters[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard characters.count >= 19, characters[4] == 45, characters[7] == 45,
            characters[10] == UInt8(ascii: "T") || characters[10] == 32, characters[13] == 58, characters[16] == 58,
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < characters.count, characters[index] == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while index < characters.count, (48...57).contains(characters[index]) {
                fraction += Double(characters[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if index < characters.count {
            let sign = characters[index]
            if sign == UInt8(ascii: "Z") {
                index += 1
            } else if sign == 43 || sign == 45 {
                guard let hours = number(index + 1..<index + 3) else { return nil }
                var minutesStart = index + 3
                if minutesStart < characters.count, characters[minutesStart] == 58 { minutesStart += 1 }
                guard let minutes = number(minutesStart..<minutesStart + 2), hours < 24, minutes < 60 else {
                    return nil
                }
                offset = (hours * 60 + minutes) * (sign == 43 ? 1 : -1)
                index = minutesStart + 2
            } else {
                return nil
            }
        }
        guard index == characters.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return (Double(timegm(&parts) - offset * 60) + fraction, offset)
    }
}
