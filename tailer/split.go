package tailer

import "bytes"

// splitLines appends to lines the complete lines of data, each without its
// '\n', and returns them with the number of bytes consumed (up to and
// including the last '\n'). Lines longer than max are not appended but
// counted in tooLong; they are consumed all the same. The bytes after the
// last '\n' (a partial line) are left for the caller. It allocates only
// when lines must grow.
func splitLines(data []byte, max int, lines [][]byte) (out [][]byte, consumed, tooLong int) {
	for {
		i := bytes.IndexByte(data[consumed:], '\n')
		if i < 0 {
			return lines, consumed, tooLong
		}
		if i > max {
			tooLong++
		} else {
			lines = append(lines, data[consumed:consumed+i:consumed+i])
		}
		consumed += i + 1
	}
}
