package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/klauspost/compress/zstd"
)

// List reads a stream made by Write (or several, one after another) and returns the
// manifest Extract would build from it, without writing anything: what a cache entry
// holds, read while the stream goes elsewhere. Names are checked as Extract checks them;
// the content is read and dropped.
func List(ctx context.Context, r io.Reader, limits Limits) (Manifest, error) {
	limits = limits.withDefaults()
	// List reads content only to skip it, so it caps the compressed stream (skippable
	// frames, a download of unknown size) at what Extract would accept.
	in := &countingReader{r: r}
	in.max.Store(compressedCap(limits.MaxBytes + overheadFixed + limits.MaxEntries*overheadPerEntry))
	zr, err := zstd.NewReader(in, zstd.WithDecoderMaxWindow(limits.MaxWindow), zstd.WithDecoderMaxMemory(limits.MaxWindow))
	if err != nil {
		return Manifest{}, fmt.Errorf("list: zstd: %w", err)
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 64<<10)
	var b manifestBuilder
	var entries int64
	for n := 0; ; n++ {
		if n > 0 {
			more, err := nextArchive(br)
			if err != nil {
				return Manifest{}, err
			}
			if !more {
				break
			}
		}
		tf := newTarFrames(br)
		for {
			if err := ctx.Err(); err != nil {
				return Manifest{}, err
			}
			hdr, err := tf.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if in.exceeded.Load() {
					return Manifest{}, tooLarge("", fmt.Sprintf("compressed stream exceeds %d bytes", in.max.Load()))
				}
				var ae *Error
				if errors.As(err, &ae) {
					return Manifest{}, ae
				}
				return Manifest{}, corrupt("", err)
			}
			if entries++; entries > limits.MaxEntries {
				return Manifest{}, tooLarge("", fmt.Sprintf("more than %d entries", limits.MaxEntries))
			}
			name, err := cleanName(hdr.Name)
			if err != nil {
				return Manifest{}, unsafeEntry(hdr.Name, err.Error())
			}
			if name == "" {
				continue
			}
			switch hdr.Typeflag {
			case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // as Extract
				b.add(Entry{Path: name, Type: TypeFile, Size: hdr.Size, Mode: fileMode(hdr.Mode) &^ (fs.ModeSetuid | fs.ModeSetgid), ModTime: hdr.ModTime})
			case tar.TypeDir:
				b.add(Entry{Path: name, Type: TypeDir, Mode: fileMode(hdr.Mode), ModTime: hdr.ModTime})
			case tar.TypeSymlink:
				b.add(Entry{Path: name, Type: TypeSymlink, ModTime: hdr.ModTime, Link: hdr.Linkname})
			case tar.TypeLink:
				target, err := cleanName(hdr.Linkname)
				if err != nil {
					return Manifest{}, unsafeEntry(hdr.Name, err.Error())
				}
				if target == name {
					return Manifest{}, unsafeEntry(hdr.Name, "hard link to itself")
				}
				i, ok := b.index[target]
				if !ok {
					return Manifest{}, unsafeEntry(hdr.Name, fmt.Sprintf("hard link target %q is not an earlier file", hdr.Linkname))
				}
				e := b.entries[i]
				e.Path = name
				b.add(e)
			case tar.TypeXGlobalHeader:
			default:
				return Manifest{}, unsafeEntry(hdr.Name, fmt.Sprintf("unsupported entry type %q", hdr.Typeflag))
			}
		}
	}
	return b.finish(), nil
}

// ListWhileReading returns a reader that yields r's bytes and lists them as List does, in
// the background, for a caller that sends the stream elsewhere. wait ends the listing and
// returns its manifest; a stream that was not read to its end is an error. The listing
// never holds the reader up: once it fails it only drains.
func ListWhileReading(ctx context.Context, r io.Reader, limits Limits) (io.Reader, func() (Manifest, error)) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	var m Manifest
	var err error
	go func() {
		defer close(done)
		m, err = List(ctx, pr, limits)
		_, _ = io.Copy(io.Discard, pr)
	}()
	wait := func() (Manifest, error) {
		pw.CloseWithError(io.ErrUnexpectedEOF)
		<-done
		return m, err
	}
	return &closeAtEOF{r: io.TeeReader(r, pw), close: pw.Close}, wait
}

// closeAtEOF calls close when r reaches its end.
type closeAtEOF struct {
	r     io.Reader
	close func() error
}

func (c *closeAtEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	// Only io.EOF itself: a transport error wrapping io.EOF is a broken stream, which
	// the listing must see as one.
	if err == io.EOF && c.close != nil { //nolint:errorlint // see above
		_ = c.close()
		c.close = nil
	}
	return n, err
}
