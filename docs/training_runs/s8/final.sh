# usage: bash docs/training_runs/s8/final.sh RUN   (the chosen arm, after training stopped): the shipped model's
# reports on all S9 frames, then ship it as the default lifting model (pretrained/ and the packaged copy).
# (The eighth session ran these steps from this file; since the ninth they live in ship_lifting.sh.)
bash docs/training_runs/ship_lifting.sh $1 docs/training_runs/s8/lifting.training.json runs/final8
