// Command oci-image turns a root filesystem folder and a JSON image config into an image tarball
// (`docker save` format, which `ctr images import` reads) named by a reference. The layer is
// reproducible: entries sorted, times zeroed, owners and modes as on disk; so is the image, and the
// image ID (the config's digest) it prints on stdout identifies its content.
//
//	oci-image --rootfs DIR --config FILE --reference NAME:TAG --output FILE.tar
//
// The config file is JSON: {"entrypoint":[],"cmd":[],"user":"","env":[],"exposedPorts":["8080/tcp"],
// "workingDir":"","labels":{}}, every field optional.
package main

import (
	"archive/tar"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type imageConfig struct {
	Entrypoint   []string          `json:"entrypoint"`
	Cmd          []string          `json:"cmd"`
	User         string            `json:"user"`
	Env          []string          `json:"env"`
	ExposedPorts []string          `json:"exposedPorts"`
	WorkingDir   string            `json:"workingDir"`
	Labels       map[string]string `json:"labels"`
}

func main() {
	rootfs := flag.String("rootfs", "", "root filesystem folder")
	configPath := flag.String("config", "", "JSON image config")
	reference := flag.String("reference", "", "image reference, e.g. stimulated-peering/peer-server:0.1.0")
	output := flag.String("output", "", "tarball to write")
	flag.Parse()
	if *rootfs == "" || *configPath == "" || *reference == "" || *output == "" {
		flag.Usage()
		os.Exit(2)
	}
	id, err := build(*rootfs, *configPath, *reference, *output)
	if err != nil {
		fmt.Fprintln(os.Stderr, "oci-image:", err)
		os.Exit(1)
	}
	fmt.Println(id)
}

func build(rootfs, configPath, reference, output string) (string, error) {
	tag, err := name.NewTag(reference)
	if err != nil {
		return "", fmt.Errorf("reference %q: %w", reference, err)
	}
	raw, err := os.ReadFile(configPath)
	if err != nil {
		return "", err
	}
	var config imageConfig
	if err := json.Unmarshal(raw, &config); err != nil {
		return "", fmt.Errorf("config %s: %w", configPath, err)
	}
	layerFile, err := os.CreateTemp(filepath.Dir(output), ".layer-*.tar")
	if err != nil {
		return "", err
	}
	defer os.Remove(layerFile.Name())
	if err := writeLayer(rootfs, layerFile); err != nil {
		layerFile.Close()
		return "", fmt.Errorf("layer from %s: %w", rootfs, err)
	}
	if err := layerFile.Close(); err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromFile(layerFile.Name())
	if err != nil {
		return "", err
	}
	image, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return "", err
	}
	file, err := image.ConfigFile()
	if err != nil {
		return "", err
	}
	file = file.DeepCopy()
	file.Architecture, file.OS = "amd64", "linux"
	file.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	file.Config = v1.Config{
		Entrypoint: config.Entrypoint, Cmd: config.Cmd, User: config.User, Env: config.Env,
		WorkingDir: config.WorkingDir, Labels: config.Labels,
	}
	if len(config.ExposedPorts) > 0 {
		file.Config.ExposedPorts = map[string]struct{}{}
		for _, port := range config.ExposedPorts {
			file.Config.ExposedPorts[port] = struct{}{}
		}
	}
	if image, err = mutate.ConfigFile(image, file); err != nil {
		return "", err
	}
	if err := tarball.WriteToFile(output, tag, image); err != nil {
		return "", err
	}
	id, err := image.ConfigName()
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// writeLayer writes the folder as an uncompressed tar, in lexical order with zeroed times.
func writeLayer(root string, out io.Writer) error {
	w := tar.NewWriter(out)
	err := filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		header, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		header.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			header.Name += "/"
		}
		header.ModTime, header.AccessTime, header.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
		header.Uname, header.Gname = "", ""
		header.Format = tar.FormatPAX
		if stat, ok := info.Sys().(*syscall.Stat_t); ok {
			header.Uid, header.Gid = int(stat.Uid), int(stat.Gid)
		}
		if err := w.WriteHeader(header); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		_, err = io.Copy(w, file)
		return err
	})
	if err != nil {
		return err
	}
	return w.Close()
}
