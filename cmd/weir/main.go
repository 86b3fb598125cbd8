package main

import (
	"github.com/weirstream/weir/cli"
	"github.com/weirstream/weir/topology"
)

func main() { cli.Main(topology.NewJobs()) }
