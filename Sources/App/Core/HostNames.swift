// What a host name in an address the platform trusts (an LMS's, a frame's origin) may be made of: ASCII letters,
// digits, dots and hyphens (an IPv6 literal's colons and brackets when asked) — no other script's look-alike letters,
// no user part, nothing a header or a policy would read differently.
enum HostNames {
    static func isPlain(_ host: String, allowIPv6: Bool = false) -> Bool {
        !host.isEmpty && host.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".", "-": return true
            case ":", "[", "]": return allowIPv6
            default: return false
            }
        }
    }
}
