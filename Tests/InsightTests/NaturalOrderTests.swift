import Foundation
import Insight
import Testing

@Suite struct NaturalOrderTests {
    @Test func numbersInNamesSortByValue() {
        let names = ["Student 10", "Student 2", "Student 1", "student 11", "Student 20", "Student 3"]
        #expect(names.naturallySorted() == ["Student 1", "Student 2", "Student 3", "Student 10", "student 11", "Student 20"])
        // The same order in the database comes from comparing the keys as bytes.
        let byKey = names.sorted { Array(NaturalOrder.sortKey($0).utf8).lexicographicallyPrecedes(Array(NaturalOrder.sortKey($1).utf8)) }
        #expect(byKey == names.naturallySorted())
    }

    @Test func caseAccentsAndSpacesFoldAndLeadingZerosDoNotCount() {
        #expect(NaturalOrder.sortKey("Émile  Zola") == NaturalOrder.sortKey("emile zola"))
        #expect(NaturalOrder.sortKey(" Ann\tLee ") == "ann lee")
        #expect(NaturalOrder.sortKey("Lab 007") == NaturalOrder.sortKey("lab 7"))
        #expect(NaturalOrder.sortKey("Lab 0") == "lab 010")
        // A shorter word before a longer one; a number before a letter at the same place.
        #expect(["Anna", "Ann Lee", "Ann"].naturallySorted() == ["Ann", "Ann Lee", "Anna"])
        #expect(["ab", "a1"].naturallySorted() == ["a1", "ab"])
        #expect(["CS 200", "CS 20", "CS 101"].naturallySorted() == ["CS 20", "CS 101", "CS 200"])
        // Equal keys still order repeatably (by the text), so two runs list people the same way.
        #expect(["b 1", "B 01", "b 01"].naturallySorted() == ["B 01", "b 01", "b 1"])
    }

    @Test func aVeryLongNumberStillSortsAfterShortOnes() {
        let long = "id " + String(repeating: "9", count: 150)
        #expect(["id 12", long, "id 3"].naturallySorted() == ["id 3", "id 12", long])
    }

    @Test func groupsComeFirstThenNames() {
        let people = [("student", "Student 10"), ("instructor", "Zed"), ("student", "Student 9")]
        let rank = ["instructor": 0, "student": 1]
        let sorted = people.naturallySorted(group: { rank[$0.0]! }, by: \.1).map(\.1)
        #expect(sorted == ["Zed", "Student 9", "Student 10"])
    }
}

@Suite struct StatsTests {
    @Test func weeksStartOnMonday() {
        func day(_ text: String) -> Int { Int(ISO8601DateFormatter().date(from: text + "T00:00:00Z")!.timeIntervalSince1970 / 86_400) }
        // Thursday 1970-01-01 is in the week of Monday 1969-12-29.
        #expect(Stats.weekStart(0) == -3)
        for text in ["2026-11-30", "2026-12-02", "2026-12-06"] { #expect(Stats.weekStart(day(text)) == day("2026-11-30"), "\(text)") }
        #expect(Stats.weekStart(day("2026-12-07")) == day("2026-12-07"))
    }

    @Test func smallCellsAreWithheldFromThoseWhoMayNotSeeThem() {
        #expect((0...6).map { SmallCells.shown($0, withheld: true) } == [0, nil, nil, nil, nil, 5, 6])
        #expect((0...6).map { SmallCells.shown($0, withheld: false) } == [0, 1, 2, 3, 4, 5, 6])
    }

    @Test func mediansAndHistograms() {
        #expect(Stats.median([]) == nil)
        #expect(Stats.median([5, 1, 3]) == 3)
        #expect(Stats.median([4, 1, 3, 2]) == 2.5)
        #expect(Stats.histogram([0, 4.9, 5, 9.99, 10, 12, -1], maximum: 10, buckets: 2) == [3, 4])
        #expect(Stats.histogram([1, 2], maximum: 0, buckets: 3) == [2, 0, 0])
    }

    @Test func daysRunInclusiveInUTC() {
        let start = ISO8601DateFormatter().date(from: "2026-12-30T23:30:00Z")!
        let end = ISO8601DateFormatter().date(from: "2027-01-02T00:10:00Z")!
        #expect(Stats.days(from: start, to: end) == ["2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02"])
        #expect(Stats.days(from: end, to: start).isEmpty)
    }
}

@Suite struct SVGChartTests {
    @Test func everyLabelAndTitleIsEscaped() {
        let hostile = #"<script>alert("x")</script> & 'y'"#
        for svg in [SVGChart.line([.init(hostile, 3), .init("b", 1)], title: hostile, empty: hostile),
                    SVGChart.bars([.init(hostile, 3)], title: hostile, empty: hostile),
                    SVGChart.shares([.init(hostile, 0.5)], title: hostile, empty: hostile),
                    SVGChart.sparkline([1, 2], title: hostile),
                    SVGChart.line([], title: hostile, empty: hostile)] {
            #expect(!svg.contains("<script"))
            #expect(!svg.contains(#""x""#))
            #expect(svg.contains("&lt;script&gt;"))
            #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
        }
    }

    @Test func barsAreScaledToTheHighestValue() {
        let svg = SVGChart.bars([.init("a", 2), .init("b", 4)], title: "t", empty: "none")
        // Plot height 178 (220 − 12 − 30): the highest bar fills it, the other is half.
        #expect(svg.contains(#"height="178.0""#))
        #expect(svg.contains(#"height="89.0""#))
        #expect(svg.contains("<title>b: 4</title>"))
        #expect(SVGChart.bars([.init("a", 0)], title: "t", empty: "Nothing handed in yet.").contains("Nothing handed in yet."))
    }

    @Test func sharesAreClampedAndLabelledInPercent() {
        let svg = SVGChart.shares([.init("test_one", 0.25), .init("test_two", 1.7)], title: "t", empty: "none")
        #expect(svg.contains(">25%</text>"))
        #expect(svg.contains(">100%</text>"))
        #expect(svg.contains(#"width="80.0""#))
    }

    @Test func aSparklineSpansItsWidthAndKeepsZeroAtTheBottom() {
        let svg = SVGChart.sparkline([0, 5, 10], title: "use", width: 102, height: 24)
        #expect(svg.contains(#"points="1.0,22.0 51.0,12.0 101.0,2.0""#))
        #expect(!SVGChart.sparkline([3], title: "one").contains("polyline"))
    }
}

@Suite struct DecimalTests {
    @Test func coordinatesHaveOneDecimal() {
        #expect(SVGChart.decimal(12) == "12.0" && SVGChart.decimal(0.04) == "0.0" && SVGChart.decimal(-3.46) == "-3.5")
        #expect(SVGChart.decimal(628.04) == "628.0" && SVGChart.decimal(118.76) == "118.8" && SVGChart.decimal(.nan) == "0.0")
    }
}
