package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Check looks at the file system for what Validate cannot see, for
// `sharkfin check`: the files of every input's globs readable and claimed
// by one input, model files (and their signatures when trusted keys are
// set), trusted keys, the category list and the CA file readable, and the
// state file writable or creatable. It reads no file's content: the caller
// loads the models and keys. It returns every problem found, each a
// *Problem; those marked Warning (a glob that matches no file yet) do not
// stop the agent. c must have passed Validate, as a Config from Load has.
func (c *Config) Check() []error {
	k := checker{c: c}
	k.inputs()
	k.models()
	k.trustedKeys()
	k.state()
	k.categories()
	k.caFile()
	return k.problems
}

type checker struct {
	c        *Config
	problems []error
}

func (k *checker) report(warning bool, path, format string, args ...any) {
	k.problems = append(k.problems, &Problem{
		File:    k.c.Path,
		Line:    lineOf(k.c.lines, path),
		Path:    path,
		Msg:     fmt.Sprintf(format, args...),
		Warning: warning,
	})
}

func (k *checker) errorf(path, format string, args ...any) { k.report(false, path, format, args...) }
func (k *checker) warnf(path, format string, args ...any)  { k.report(true, path, format, args...) }

// inputs checks that the globs match readable files, each claimed by one
// input.
func (k *checker) inputs() {
	owner := map[string]int{} // file → index of the first input matching it
	for i := range k.c.Inputs {
		in := &k.c.Inputs[i]
		for _, g := range in.Globs() {
			path := joinPath(indexPath("inputs", i), globKey(in, g))
			matches, err := filepath.Glob(g)
			if err != nil {
				k.errorf(path, "%q is not a valid glob (%v); use filepath.Match syntax", g, err)
				continue
			}
			files := 0
			for _, m := range matches {
				if in.excluded(m) {
					continue
				}
				fi, err := os.Stat(m)
				switch {
				case err != nil:
					k.errorf(path, "%s: cannot read (%v); fix the link or exclude it", m, reason(err))
					continue
				case fi.IsDir():
					k.warnf(path, "%q matches the directory %s, which is not read; make the glob match files only", g, m)
					continue
				case !fi.Mode().IsRegular():
					k.warnf(path, "%q matches %s, which is not a regular file and is not read; exclude it", g, m)
					continue
				}
				files++
				if err := openClose(m); err != nil {
					k.errorf(path, "%s: cannot read (%v); give the sharkfin user read access, e.g. membership of the group that owns the logs (adm)", m, reason(err))
				}
				if o, ok := owner[m]; ok && o != i {
					k.errorf(path, "%s is also read by inputs[%d] (%s); a file belongs to one input: narrow a glob or add an exclude", m, o, k.c.Inputs[o].Name)
				} else if !ok {
					owner[m] = i
				}
			}
			if files == 0 {
				k.noMatch(path, g)
			}
		}
	}
}

// noMatch explains why glob g matches no file.
func (k *checker) noMatch(path, g string) {
	dir := literalDir(g)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		k.warnf(path, "%q matches no file: the directory %s does not exist (yet); the input waits for it", g, dir)
	case err != nil:
		k.errorf(path, "%q: cannot read the directory %s (%v); give the sharkfin user access to it", g, dir, reason(err))
	case !fi.IsDir():
		k.errorf(path, "%q: %s is not a directory; fix the glob", g, dir)
	default:
		if err := readDir(dir); err != nil {
			k.errorf(path, "%q: cannot list the directory %s (%v); give the sharkfin user read access to it", g, dir, reason(err))
			return
		}
		k.warnf(path, "%q matches no file yet; the input waits for one to appear", g)
	}
}

// models checks that the model files, and their signatures when keys are
// trusted, are readable.
func (k *checker) models() {
	d := &k.c.Detect
	for _, kind := range sortedKeys(d.Models) {
		path := joinPath("detect.models", kind)
		file := d.Models[kind]
		if u, ok := d.ModelURLs[kind]; ok {
			if _, err := os.Stat(file); err != nil {
				k.warnf(path, "%s has not been fetched yet (no copy at %s): the agent fetches it when it starts", u, file)
			}
			continue
		}
		if !k.readable(path, file, "train one with sharkfin train, or fix the path") {
			continue
		}
		if len(d.TrustedKeys) > 0 {
			k.readable(path, file+".sig", "sign the model with sharkfin model sign (keys are trusted, so models must be signed)")
		}
	}
}

func (k *checker) trustedKeys() {
	for i, key := range k.c.Detect.TrustedKeys {
		k.readable(indexPath("detect.trusted_keys", i), key, "make a key pair with sharkfin model keygen, or fix the path")
	}
}

func (k *checker) caFile() {
	if f := k.c.Detect.ModelPull.CAFile; f != "" {
		k.readable("detect.model_pull.ca_file", f, "give the PEM file of the CA that signed the model server's certificate")
	}
	if f := k.c.Output.Fluentd; f != nil && f.CAFile != "" {
		k.readable("output.fluentd.ca_file", f.CAFile, "give the PEM file of the CA that signed the Fluentd server's certificate")
	}
}

// categories checks that the category list is a readable file, or a
// readable squidGuard/UT1 directory with <category>/domains files.
func (k *checker) categories() {
	const path = "detect.domains.categories"
	file := k.c.Detect.Domains.Categories
	if file == "" {
		return
	}
	fi, err := os.Stat(file)
	if err != nil || !fi.IsDir() {
		k.readable(path, file, "give a domain,category CSV file or a squidGuard/UT1 directory")
		return
	}
	lists, err := filepath.Glob(filepath.Join(file, "*", "domains"))
	if err == nil && len(lists) == 0 {
		if err := readDir(file); err != nil {
			k.errorf(path, "cannot list the directory %s (%v); give the sharkfin user read access", file, reason(err))
			return
		}
		k.warnf(path, "the directory %s has no <category>/domains files; every domain will be uncategorized", file)
	}
}

// readable reports, and returns false, when file is not a readable
// regular file; fix says how to mend a missing one.
func (k *checker) readable(path, file, fix string) bool {
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		k.errorf(path, "%s does not exist; %s", file, fix)
		return false
	case err != nil:
		k.errorf(path, "cannot read %s (%v); give the sharkfin user access to it", file, reason(err))
		return false
	case fi.IsDir():
		k.errorf(path, "%s is a directory; name a file", file)
		return false
	}
	if err := openClose(file); err != nil {
		k.errorf(path, "cannot read %s (%v); give the sharkfin user read access", file, reason(err))
		return false
	}
	return true
}

// state checks that the state file can be written, or created with its
// directories.
func (k *checker) state() {
	const path = "state.path"
	file := k.c.State.Path
	fi, err := os.Stat(file)
	switch {
	case err == nil && fi.IsDir():
		k.errorf(path, "%s is a directory; name a file inside it, e.g. %s", file, filepath.Join(file, "state.db"))
	case err == nil:
		if err := writable(file); err != nil {
			k.errorf(path, "cannot write %s (%v); give the sharkfin user write access", file, reason(err))
		}
		dir := filepath.Dir(file)
		if err := writable(dir); err != nil {
			k.errorf(path, "cannot write the directory %s (%v); the agent needs it to move a damaged state file aside", dir, reason(err))
		}
	case errors.Is(err, fs.ErrNotExist):
		dir := existingAncestor(filepath.Dir(file))
		fi, err := os.Stat(dir)
		switch {
		case err != nil:
			k.errorf(path, "%s cannot be created: %s (%v)", file, dir, reason(err))
		case !fi.IsDir():
			k.errorf(path, "%s cannot be created: %s is not a directory; choose another path", file, dir)
		default:
			if err := writable(dir); err != nil {
				k.errorf(path, "%s cannot be created: cannot write %s (%v); create %s owned by the sharkfin user", file, dir, reason(err), filepath.Dir(file))
			}
		}
	default:
		k.errorf(path, "%s cannot be used (%v); choose a path in a directory the sharkfin user owns", file, reason(err))
	}
}

// existingAncestor returns dir or its nearest ancestor that exists.
func existingAncestor(dir string) string {
	for {
		if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

// literalDir is the directory of glob g up to its first pattern character.
func literalDir(g string) string {
	dir := filepath.Dir(g)
	for strings.ContainsAny(dir, `*?[\`) {
		dir = filepath.Dir(dir)
	}
	return dir
}

// reason strips the operation and path from a file system error, which
// the messages name themselves.
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func openClose(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	return f.Close()
}

func readDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
