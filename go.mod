module github.com/zerostor/zerostor

go 1.26.8
