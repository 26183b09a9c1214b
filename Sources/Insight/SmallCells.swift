// Counts of people small enough to point at someone ("the one student of CS340 who used the labs") are withheld
// from those who may not see people: a partner sees "fewer than 5" where a count is 1 to 4. Zero names no one and
// is shown.
public enum SmallCells {
    public static let minimum = 5
    public static let withheldText = "fewer than 5"

    /// `count`, or nil when it is withheld (1…4 and `withheld`).
    public static func shown(_ count: Int, withheld: Bool) -> Int? {
        withheld && count > 0 && count < minimum ? nil : count
    }
}
