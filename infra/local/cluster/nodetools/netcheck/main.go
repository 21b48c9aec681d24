// Command netcheck is a tiny static program the real-node tests run in containers:
//
//	netcheck serve PORT        answers GET / with "netcheck <hostname>" and GET /healthz with "ok"
//	netcheck get URL...        GETs each URL until it answers 200 (60 s each), prints the bodies;
//	                           exits 1 if one never does
//	netcheck kube-get PATH     GETs PATH from the apiserver through the `kubernetes` Service with
//	                           the pod's ServiceAccount token, as an in-cluster client does; exits 1
//	                           unless it answers 200
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: netcheck serve PORT | get URL... | kube-get PATH")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2])
	case "get":
		for _, url := range os.Args[2:] {
			if err = getUntilOK(http.DefaultClient, url, nil); err != nil {
				break
			}
		}
	case "kube-get":
		err = kubeGet(os.Args[2])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "netcheck:", err)
		os.Exit(1)
	}
}

func serve(port string) error {
	hostname, _ := os.Hostname()
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "netcheck", hostname) })
	return http.ListenAndServe(":"+port, nil)
}

func getUntilOK(client *http.Client, url string, header http.Header) error {
	client.Timeout = 5 * time.Second
	deadline := time.Now().Add(60 * time.Second)
	for {
		request, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		for key, values := range header {
			request.Header[key] = values
		}
		response, err := client.Do(request)
		if err == nil {
			body, _ := io.ReadAll(response.Body)
			response.Body.Close()
			if response.StatusCode == http.StatusOK {
				fmt.Printf("GET %s: %s", url, body)
				return nil
			}
			err = fmt.Errorf("status %d: %s", response.StatusCode, strings.TrimSpace(string(body)))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s: %w", url, err)
		}
		fmt.Fprintf(os.Stderr, "GET %s: %v; retrying\n", url, err)
		time.Sleep(time.Second)
	}
}

func kubeGet(path string) error {
	token, err := os.ReadFile(serviceAccount + "/token")
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(serviceAccount + "/ca.crt")
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return fmt.Errorf("no certificate in %s/ca.crt", serviceAccount)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	server := net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	header := http.Header{"Authorization": {"Bearer " + strings.TrimSpace(string(token))}}
	return getUntilOK(client, "https://"+server+path, header)
}
