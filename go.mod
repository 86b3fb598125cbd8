module github.com/weirstream/weir

go 1.26.8

require (
	github.com/hashicorp/go-msgpack/v2 v2.1.5
	go.uber.org/goleak v1.3.0
	pgregory.net/rapid v1.3.0
)

require github.com/stretchr/testify v1.11.1 // indirect
