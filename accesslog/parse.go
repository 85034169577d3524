package accesslog

import (
	"bytes"
	"time"
)

// stampLen is the length of "[dd/Mon/yyyy:HH:MM:SS -0700]".
const stampLen = 28

// ParseTime finds the [dd/Mon/yyyy:HH:MM:SS -0700] field of a CLF line and
// returns the instant it names, in UTC: merging compares instants, so logs
// written with different offsets interleave correctly. The first '[' that
// opens a well-formed stamp wins, so a '[' earlier in the line (an odd
// authuser) does not hide the time. Month names match in any case, as
// mergelog accepts them. It does not allocate.
func ParseTime(line []byte) (time.Time, bool) {
	sec, ok := parseStamp(line)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}

// parseStamp is ParseTime as Unix seconds, the form the merge heap compares.
func parseStamp(line []byte) (int64, bool) {
	for i := 0; i+stampLen <= len(line); i++ {
		j := bytes.IndexByte(line[i:len(line)-stampLen+1], '[')
		if j < 0 {
			return 0, false
		}
		i += j
		if sec, ok := stampAt(line[i : i+stampLen]); ok {
			return sec, true
		}
	}
	return 0, false
}

// stampAt decodes exactly "[dd/Mon/yyyy:HH:MM:SS -0700]".
func stampAt(b []byte) (int64, bool) {
	if b[0] != '[' || b[3] != '/' || b[7] != '/' || b[12] != ':' || b[15] != ':' ||
		b[18] != ':' || b[21] != ' ' || b[27] != ']' {
		return 0, false
	}
	day, ok1 := num2(b[1], b[2])
	hi, ok2 := num2(b[8], b[9])
	lo, ok3 := num2(b[10], b[11])
	hour, ok4 := num2(b[13], b[14])
	minute, ok5 := num2(b[16], b[17])
	sec, ok6 := num2(b[19], b[20])
	oh, ok7 := num2(b[23], b[24])
	om, ok8 := num2(b[25], b[26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
		return 0, false
	}
	month := monthNumber(b[4], b[5], b[6])
	year := hi*100 + lo
	if month == 0 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 60 || om > 59 {
		return 0, false
	}
	off := (oh*60 + om) * 60
	switch b[22] {
	case '+':
	case '-':
		off = -off
	default:
		return 0, false
	}
	days := daysFromCivil(year, month, day)
	return days*86400 + int64(hour*3600+minute*60+sec-off), true
}

func num2(a, b byte) (int, bool) {
	a -= '0'
	b -= '0'
	if a > 9 || b > 9 {
		return 0, false
	}
	return int(a)*10 + int(b), true
}

// monthNumber maps a three-letter month name, in any case, to 1-12, or 0.
func monthNumber(a, b, c byte) int {
	switch uint32(a|0x20)<<16 | uint32(b|0x20)<<8 | uint32(c|0x20) {
	case 'j'<<16 | 'a'<<8 | 'n':
		return 1
	case 'f'<<16 | 'e'<<8 | 'b':
		return 2
	case 'm'<<16 | 'a'<<8 | 'r':
		return 3
	case 'a'<<16 | 'p'<<8 | 'r':
		return 4
	case 'm'<<16 | 'a'<<8 | 'y':
		return 5
	case 'j'<<16 | 'u'<<8 | 'n':
		return 6
	case 'j'<<16 | 'u'<<8 | 'l':
		return 7
	case 'a'<<16 | 'u'<<8 | 'g':
		return 8
	case 's'<<16 | 'e'<<8 | 'p':
		return 9
	case 'o'<<16 | 'c'<<8 | 't':
		return 10
	case 'n'<<16 | 'o'<<8 | 'v':
		return 11
	case 'd'<<16 | 'e'<<8 | 'c':
		return 12
	}
	return 0
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil counts days from 1970-01-01 to the proleptic Gregorian
// date, without going through time.Date (Howard Hinnant's algorithm).
func daysFromCivil(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	m := int64(month)
	if m > 2 {
		m -= 3
	} else {
		m += 9
	}
	doy := (153*m+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
