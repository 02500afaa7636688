module github.com/twinstream/twinstream

go 1.26
