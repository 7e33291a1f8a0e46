# Host port: the native compiler; `cc` unless CC was given.
ifeq ($(origin CC),default)
CC := gcc
endif
SIZE ?= size
