module example.com/rr

go 1.19
