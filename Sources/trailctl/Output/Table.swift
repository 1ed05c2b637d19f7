import Foundation

/// A table of aligned columns for terminal output: a header row, then rows.
/// The last column may be cut to fit the terminal's width.
struct Table {
    enum Alignment { case left, right }

    struct Column {
        var title: String
        var alignment: Alignment = .left
    }

    struct Cell {
        var text: String
        var style: Style?
        init(_ text: String, _ style: Style? = nil) {
            self.text = text
            self.style = style
        }
    }

    var columns: [Column]
    var rows: [[Cell]] = []

    init(_ columns: [Column]) { self.columns = columns }

    mutating func add(_ row: [Cell]) { rows.append(row) }

    /// The lines of the table. With `width`, the last column is shortened
    /// (with `…`) so that no line is longer than `width` characters.
    func render(_ painter: Painter, width: Int?) -> [String] {
        var widths = columns.map { $0.title.count }
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.text.count) }
        }
        let gap = 2
        var lastWidth: Int?
        if let width, columns.count > 1 {
            let before = widths.dropLast().reduce(0, +) + gap * (columns.count - 1)
            lastWidth = max(8, width - before)
        }
        func line(_ cells: [Cell], header: Bool) -> String {
            var out = ""
            for (i, column) in columns.enumerated() {
                var text = i < cells.count ? cells[i].text : ""
                let isLast = i == columns.count - 1
                if isLast, let lastWidth, text.count > lastWidth {
                    text = String(text.prefix(lastWidth - 1)) + "…"
                }
                let target = isLast && column.alignment == .left ? text.count : widths[i]
                let pad = String(repeating: " ", count: max(0, target - text.count))
                let style = header ? Style.bold : (i < cells.count ? cells[i].style : nil)
                let painted = painter.paint(text, style)
                out += column.alignment == .right ? pad + painted : painted + (isLast ? "" : pad)
                if !isLast { out += String(repeating: " ", count: gap) }
            }
            while out.last == " " { out.removeLast() }
            return out
        }
        return [line(columns.map { Cell($0.title) }, header: true)] + rows.map { line($0, header: false) }
    }
}

/// Label/value lines with the values aligned, for one object (a note, stats).
struct Details {
    var rows: [(label: String, value: String, style: Style?)] = []

    mutating func add(_ label: String, _ value: String, _ style: Style? = nil) { rows.append((label, value, style)) }

    func render(_ painter: Painter) -> [String] {
        let w = rows.map(\.label.count).max() ?? 0
        return rows.map { r in
            painter.paint(r.label.padding(toLength: w, withPad: " ", startingAt: 0), .dim) + "  " + painter.paint(r.value, r.style)
        }
    }
}
